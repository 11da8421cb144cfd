/**
 * The Serverless Framework (v3 line, osls) with no account and no network: package, invoke local
 * and offline, each checked by what they produce or write. npm test builds dist/ first.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { freePort } from '../../lib/stack/proc';
import { runCommand, SERVERLESS, startCommand, stopCommand } from '../helpers/run';
import { sandbox, type Sandbox } from '../helpers/sink';

const tmp = mkdtempSync(path.join(tmpdir(), 'quotes-sink-sls-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('serverless package', () => {
  let template: { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };
  const out = path.join(tmp, 'package');

  before(async () => {
    const r = await runCommand(SERVERLESS, ['package', '--stage', 'ci', '--param=trigger=both', '--param=batchSize=321', '--package', out]);
    assert.equal(r.code, 0, `serverless package failed:\n${r.stdout}\n${r.stderr}`);
    template = JSON.parse(readFileSync(path.join(out, 'cloudformation-template-update-stack.json'), 'utf8'));
  });

  test('the template has both event source mappings with the configured batch size and retry policy', () => {
    const esms = Object.values(template.Resources).filter((r) => r.Type === 'AWS::Lambda::EventSourceMapping');
    assert.equal(esms.length, 2);
    const selfManaged = esms.find((e) => e.Properties.SelfManagedEventSource);
    const msk = esms.find((e) => typeof e.Properties.EventSourceArn === 'string' && String(e.Properties.EventSourceArn).startsWith('arn:aws:kafka:'));
    assert.ok(selfManaged, 'self-managed Kafka mapping');
    assert.ok(msk, 'MSK mapping');
    for (const e of [selfManaged, msk]) {
      assert.equal(e.Properties.BatchSize, 321);
      assert.deepEqual(e.Properties.Topics, ['quotes']);
      assert.equal(e.Properties.StartingPosition, 'TRIM_HORIZON');
      assert.equal(e.Properties.MaximumBatchingWindowInSeconds, 1);
      assert.equal(e.Properties.MaximumRetryAttempts, 10);
      assert.equal(e.Properties.BisectBatchOnFunctionError, true);
      assert.ok((e.Properties.DestinationConfig as { OnFailure: { Destination: string } }).OnFailure.Destination);
    }
    const access = selfManaged.Properties.SourceAccessConfigurations as { Type: string }[];
    assert.deepEqual([...new Set(access.map((a) => a.Type))].sort(), ['SASL_SCRAM_512_AUTH', 'VPC_SECURITY_GROUP', 'VPC_SUBNET']);
  });

  test("the function's role grants only what it uses", () => {
    const role = template.Resources.IamRoleLambdaExecution.Properties as { Policies: { PolicyDocument: { Statement: { Action: string | string[]; Resource: unknown }[] } }[] };
    const statements = role.Policies.flatMap((p) => p.PolicyDocument.Statement);
    const allowed: Record<string, (resource: string) => boolean> = {
      'logs:CreateLogStream': (r) => r.includes(':log-group:/aws/lambda/quotes-sink-ci'),
      'logs:CreateLogGroup': (r) => r.includes(':log-group:/aws/lambda/quotes-sink-ci'),
      'logs:TagResource': (r) => r.includes(':log-group:/aws/lambda/quotes-sink-ci'),
      'logs:PutLogEvents': (r) => r.includes(':log-group:/aws/lambda/quotes-sink-ci'),
      'secretsmanager:GetSecretValue': (r) => /^arn:aws:secretsmanager:[^*]+$/.test(r),
      'kafka:DescribeCluster': (r) => r.startsWith('arn:aws:kafka:'),
      'kafka:GetBootstrapBrokers': (r) => r.startsWith('arn:aws:kafka:'),
      'sqs:SendMessage': (r) => /^arn:aws:sqs:[^*]+$/.test(r),
      // Lambda's VPC networking for the self-managed Kafka mapping: AWS documents these on "*".
      'ec2:CreateNetworkInterface': (r) => r === '*',
      'ec2:DescribeNetworkInterfaces': (r) => r === '*',
      'ec2:DescribeVpcs': (r) => r === '*',
      'ec2:DeleteNetworkInterface': (r) => r === '*',
      'ec2:DescribeSubnets': (r) => r === '*',
      'ec2:DescribeSecurityGroups': (r) => r === '*',
    };
    for (const st of statements) {
      const resources = ([] as unknown[]).concat(st.Resource).map((r) => (typeof r === 'string' ? r : JSON.stringify(r)));
      for (const action of ([] as string[]).concat(st.Action)) {
        assert.ok(action in allowed, `unexpected permission ${action}`);
        for (const r of resources) assert.ok(allowed[action](r), `${action} on ${r} is broader than needed`);
      }
    }
  });

  test('the function is Node 20, takes its database settings from dynamic references, and its zip runs', async () => {
    const fn = template.Resources.SinkLambdaFunction.Properties;
    assert.equal(fn.Runtime, 'nodejs20.x');
    assert.equal(fn.Handler, 'dist/sink.handler');
    const vars = (fn.Environment as { Variables: Record<string, string> }).Variables;
    assert.match(vars.POSTGRES_URL, /^\{\{resolve:secretsmanager:/);
    assert.match(vars.MONGO_URL, /^\{\{resolve:secretsmanager:/);
    const unzipped = path.join(tmp, 'unzipped');
    const r = await runCommand('python3', ['-m', 'zipfile', '-e', path.join(out, 'quotes-sink.zip'), unzipped]);
    assert.equal(r.code, 0, r.stderr);
    const check = await runCommand(process.execPath, ['-e', `const m=require(${JSON.stringify(path.join(unzipped, 'dist', 'sink.js'))}); if (typeof m.handler !== 'function') process.exit(3)`]);
    assert.equal(check.code, 0, check.stderr);
  });
});

/** The summary `serverless invoke local` prints (the last JSON object on stdout). */
function summaryFrom(stdout: string): Record<string, unknown> {
  const start = stdout.lastIndexOf('\n{\n');
  return JSON.parse(stdout.slice(start >= 0 ? start + 1 : stdout.indexOf('{')));
}

describe('serverless invoke local', () => {
  let sb: Sandbox;
  before(async () => (sb = await sandbox('invoke')));
  after(() => sb.close());

  const invoke = async (fixture: string) => {
    const envArgs = Object.entries({ ...sb.env, LOG_LEVEL: 'silent' }).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
    const r = await runCommand(SERVERLESS, ['invoke', 'local', '-f', 'sink', '-p', `test/fixtures/${fixture}`, ...envArgs]);
    assert.equal(r.code, 0, `invoke local failed:\n${r.stdout}\n${r.stderr}`);
    return summaryFrom(r.stdout);
  };

  test('each fixture three times: rows, documents and dead letters written once', async () => {
    const first = await invoke('msk-event.json');
    assert.deepEqual(first.postgres, { written: 4, alreadyPresent: 0 });
    for (let i = 0; i < 2; i++) assert.deepEqual((await invoke('msk-event.json')).mongo, { written: 0, alreadyPresent: 4 });
    assert.deepEqual(await sb.counts(), { rows: 4, docs: 4, deadLetters: 2 });

    const sm = await invoke('self-managed-event.json');
    assert.equal(sm.eventSource, 'SelfManagedKafka');
    for (let i = 0; i < 2; i++) await invoke('self-managed-event.json');
    assert.deepEqual(await sb.counts(), { rows: 8, docs: 8, deadLetters: 4 });
  });
});

describe('serverless offline', () => {
  let sb: Sandbox;
  before(async () => (sb = await sandbox('offline')));
  after(() => sb.close());

  test('the function answers InvokeCommand on the offline Lambda endpoint and writes the batch', async () => {
    const lambdaPort = await freePort(3002);
    const httpPort = await freePort(3000, [lambdaPort]);
    const offline = await startCommand(
      SERVERLESS,
      ['offline', 'start', '--lambdaPort', String(lambdaPort), '--httpPort', String(httpPort)],
      { ...sb.env, LOG_LEVEL: 'warn' },
      /Offline \[http for lambda\] listening|listening on http:\/\/127\.0\.0\.1:\d+/i,
    );
    try {
      const client = new LambdaClient({ endpoint: `http://127.0.0.1:${lambdaPort}`, region: 'eu-west-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
      const payload = readFileSync(path.join(__dirname, '..', 'fixtures', 'msk-event.json'));
      const res = await client.send(new InvokeCommand({ FunctionName: 'quotes-sink-local-sink', Payload: payload }));
      assert.equal(res.FunctionError, undefined, Buffer.from(res.Payload ?? []).toString());
      const summary = JSON.parse(Buffer.from(res.Payload ?? []).toString());
      assert.deepEqual(summary.postgres, { written: 4, alreadyPresent: 0 });
      const bad = await client.send(new InvokeCommand({ FunctionName: 'quotes-sink-local-sink', Payload: Buffer.from('{"records": {}}') }));
      assert.equal(bad.FunctionError, 'Unhandled', 'an invalid event is a function error');
      assert.deepEqual(await sb.counts(), { rows: 4, docs: 4, deadLetters: 2 });
    } finally {
      await stopCommand(offline.child);
    }
  });
});
