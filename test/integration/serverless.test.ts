/**
 * The Serverless Framework (v3 line, osls) with no account and no network: package (every deploy
 * variant, each linted by cfn-lint and checked against AWS's rules for Kafka mappings), invoke
 * local and offline, each checked by what they produce or write. npm test builds dist/ first.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { availableParallelism } from 'node:os';
import { PROJECT_ROOT } from '../../lib/config';
import { findCfnLint, runCfnLint } from '../../tools/deploy/cfn-lint';
import { checkTemplate, eventSourceMappings, type CfnTemplate } from '../../tools/deploy/template';
import {
  deployVariants,
  packageVariant,
  packageVariants,
  type PackageResult,
  type Variant,
} from '../../tools/deploy/variants';
import type { BatchSummary } from '../../lib/sink/batch';
import { freePort } from '../../tools/stack/proc';
import { runCommand, SERVERLESS, startCommand, stopCommand, TSX } from '../helpers/run';
import { sandbox, type Sandbox } from '../helpers/sink';

const tmp = mkdtempSync(path.join(tmpdir(), 'quotes-sink-sls-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('serverless package', () => {
  let template: { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };
  const out = path.join(tmp, 'package');

  before(async () => {
    // From a private service folder: the framework empties and fills <service>/.serverless/.
    const r = await packageVariant({ name: 'package', params: { trigger: 'both', batchSize: '321' } }, out, 'ci');
    assert.ok(r.ok && r.template, `serverless package failed:\n${r.output}`);
    template = r.template as typeof template;
  });

  test('the template has both event source mappings with the configured batch size and error handling', () => {
    const esms = Object.values(template.Resources).filter((r) => r.Type === 'AWS::Lambda::EventSourceMapping');
    assert.equal(esms.length, 2);
    const selfManaged = esms.find((e) => e.Properties.SelfManagedEventSource);
    const msk = esms.find(
      (e) =>
        typeof e.Properties.EventSourceArn === 'string' &&
        String(e.Properties.EventSourceArn).startsWith('arn:aws:kafka:'),
    );
    assert.ok(selfManaged, 'self-managed Kafka mapping');
    assert.ok(msk, 'MSK mapping');
    for (const e of [selfManaged, msk]) {
      assert.equal(e.Properties.BatchSize, 321);
      assert.deepEqual(e.Properties.Topics, ['quotes']);
      assert.equal(e.Properties.StartingPosition, 'TRIM_HORIZON');
      assert.equal(e.Properties.MaximumBatchingWindowInSeconds, 1);
      // Defaults: provisioned mode, so the error handling controls apply (kafka-retry-configurations).
      assert.deepEqual(e.Properties.ProvisionedPollerConfig, { MinimumPollers: 1, MaximumPollers: 10 });
      assert.equal(e.Properties.MaximumRetryAttempts, 10);
      assert.equal(e.Properties.MaximumRecordAgeInSeconds, -1);
      assert.equal(e.Properties.BisectBatchOnFunctionError, true);
      assert.deepEqual(e.Properties.FunctionResponseTypes, ['ReportBatchItemFailures']);
      assert.deepEqual(e.Properties.DestinationConfig, { OnFailure: { Destination: 'kafka://quotes-failed' } });
    }
    const access = selfManaged.Properties.SourceAccessConfigurations as { Type: string }[];
    assert.deepEqual([...new Set(access.map((a) => a.Type))].sort(), [
      'SASL_SCRAM_512_AUTH',
      'VPC_SECURITY_GROUP',
      'VPC_SUBNET',
    ]);
  });

  test("the function's role grants only what it uses", () => {
    const role = template.Resources.IamRoleLambdaExecution.Properties as {
      Policies: { PolicyDocument: { Statement: { Action: string | string[]; Resource: unknown }[] } }[];
    };
    const statements = role.Policies.flatMap((p) => p.PolicyDocument.Statement);
    const allowed: Record<string, (resource: string) => boolean> = {
      'logs:CreateLogStream': (r) => r.includes(':log-group:/aws/lambda/quotes-sink-ci'),
      'logs:CreateLogGroup': (r) => r.includes(':log-group:/aws/lambda/quotes-sink-ci'),
      'logs:TagResource': (r) => r.includes(':log-group:/aws/lambda/quotes-sink-ci'),
      'logs:PutLogEvents': (r) => r.includes(':log-group:/aws/lambda/quotes-sink-ci'),
      'secretsmanager:GetSecretValue': (r) => /^arn:aws:secretsmanager:[^*]+$/.test(r),
      'kafka:DescribeCluster': (r) => r.startsWith('arn:aws:kafka:'),
      'kafka:GetBootstrapBrokers': (r) => r.startsWith('arn:aws:kafka:'),
      // The default destination: a topic on the MSK cluster (self-managed Kafka authorises by ACLs).
      'kafka-cluster:WriteData': (r) => /^arn:aws:kafka:[^*]+:topic\/[^*]+\/quotes-failed$/.test(r),
      // The SASL secrets' customer-managed key, through Secrets Manager only.
      'kms:Decrypt': (r) => /^arn:aws:kms:[^*]+:key\/[^*]+$/.test(r),
      // Lambda's VPC networking for the self-managed Kafka mapping: AWS documents these on "*".
      'ec2:CreateNetworkInterface': (r) => r === '*',
      'ec2:DescribeNetworkInterfaces': (r) => r === '*',
      'ec2:DescribeVpcs': (r) => r === '*',
      'ec2:DeleteNetworkInterface': (r) => r === '*',
      'ec2:DescribeSubnets': (r) => r === '*',
      'ec2:DescribeSecurityGroups': (r) => r === '*',
    };
    for (const st of statements) {
      const resources = ([] as unknown[])
        .concat(st.Resource)
        .map((r) => (typeof r === 'string' ? r : JSON.stringify(r)));
      for (const action of ([] as string[]).concat(st.Action)) {
        assert.ok(action in allowed, `unexpected permission ${action}`);
        for (const r of resources) assert.ok(allowed[action](r), `${action} on ${r} is broader than needed`);
      }
    }
  });

  test('the function is Node 24 on arm64, takes its database settings from dynamic references, and its zip runs', async () => {
    const fn = template.Resources.SinkLambdaFunction.Properties;
    assert.equal(fn.Runtime, 'nodejs24.x');
    assert.deepEqual(fn.Architectures, ['arm64']);
    assert.equal(fn.Handler, 'dist/sink.handler');
    const vars = (fn.Environment as { Variables: Record<string, string> }).Variables;
    assert.match(vars.POSTGRES_URL, /^\{\{resolve:secretsmanager:/);
    assert.match(vars.MONGO_URL, /^\{\{resolve:secretsmanager:/);
    const unzipped = path.join(tmp, 'unzipped');
    const r = await runCommand('python3', ['-m', 'zipfile', '-e', path.join(out, 'quotes-sink.zip'), unzipped]);
    assert.equal(r.code, 0, r.stderr);
    const check = await runCommand(process.execPath, [
      '-e',
      `const m=require(${JSON.stringify(path.join(unzipped, 'dist', 'sink.js'))}); if (typeof m.handler !== 'function') process.exit(3)`,
    ]);
    assert.equal(check.code, 0, check.stderr);
  });
});

/** The IAM actions a variant's role must have: exactly these, no more (logs come with every function). */
function expectedActions(v: Variant): string[] {
  const { trigger, destination } = v.params;
  const actions = ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents', 'logs:TagResource'];
  if (trigger === 'none') return actions.sort();
  const ec2 = [
    'CreateNetworkInterface',
    'DeleteNetworkInterface',
    'DescribeNetworkInterfaces',
    'DescribeSecurityGroups',
    'DescribeSubnets',
    'DescribeVpcs',
  ];
  actions.push('secretsmanager:GetSecretValue', 'kms:Decrypt', ...ec2.map((a) => `ec2:${a}`));
  const withMsk = trigger === 'msk' || trigger === 'both';
  if (withMsk) actions.push('kafka:DescribeCluster', 'kafka:GetBootstrapBrokers');
  if (destination === 'kafka' && withMsk) actions.push('kafka-cluster:WriteData');
  if (destination === 's3') actions.push('s3:PutObject', 's3:ListBucket');
  if (destination === 'sqs') actions.push('sqs:SendMessage');
  return actions.sort();
}

type Statement = { Action: string | string[]; Resource: unknown };
const roleStatementsOf = (t: CfnTemplate): Statement[] =>
  (
    t.Resources.IamRoleLambdaExecution.Properties as { Policies: { PolicyDocument: { Statement: Statement[] } }[] }
  ).Policies.flatMap((p) => p.PolicyDocument.Statement);

describe('every deploy variant (trigger × scaling × destination)', () => {
  const root = path.join(tmp, 'variants');
  // Beside the 19 variants: any topic and cluster name packages; and one the rules must reject.
  const renamed: Variant = {
    name: 'renamed',
    params: {
      trigger: 'both',
      topic: 'prices.v2',
      destinationTopic: 'prices.v2-failed',
      mskClusterArn:
        'arn:aws:kafka:eu-west-1:123456789012:cluster/other-cluster_1/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d-7',
    },
  };
  const loop: Variant = { name: 'loop', params: { trigger: 'msk', destinationTopic: 'quotes' } };
  const variants = deployVariants();
  // Every variant again with the two-route sink file: a mapping per route (and trigger).
  const twoRoutes = variants.map((v) => ({
    ...v,
    name: `${v.name}-routes`,
    env: { SINK_FILE: 'examples/orders/sink.yaml' },
  }));
  let results: PackageResult[];
  const result = (name: string) => results.find((r) => r.variant.name === name) as PackageResult;

  before(async () => {
    const all = [...variants, ...twoRoutes, renamed, loop];
    results = await packageVariants(all, root, 'ci', Math.max(2, availableParallelism()));
  });

  test('each variant packages, with one route and with two', () => {
    assert.equal(variants.length, 19);
    assert.equal(results.length, 2 * 19 + 2);
    for (const r of results) assert.ok(r.ok && r.template, `${r.variant.name} failed to package:\n${r.output}`);
  });

  test('cfn-lint finds nothing (no error, warning or informational) in any packaged template', () => {
    const command = findCfnLint(); // throws, naming how to install it, when cfn-lint is missing
    const files = results.filter((r) => r.variant.name !== loop.name).map((r) => r.templateFile as string);
    const lint = runCfnLint(files, command);
    assert.deepEqual(lint.findings, [], `${command.version}:\n${lint.findings.join('\n')}`);
    assert.equal(lint.status, 0, lint.stderr);
  });

  test("AWS's rules for Kafka mappings (npm run doctor's) find no violation", () => {
    for (const r of results.filter((x) => x.variant.name !== loop.name)) {
      for (const m of checkTemplate(r.template as CfnTemplate))
        assert.deepEqual(m.violations, [], `${r.variant.name} ${m.logicalId}`);
    }
  });

  test('the error handling controls are set in provisioned mode only, on every mapping', () => {
    const controls = [
      'ProvisionedPollerConfig',
      'MaximumRetryAttempts',
      'MaximumRecordAgeInSeconds',
      'BisectBatchOnFunctionError',
      'FunctionResponseTypes',
    ];
    for (const v of variants.filter((x) => x.params.trigger !== 'none')) {
      const mappings = eventSourceMappings(result(v.name).template as CfnTemplate);
      assert.equal(mappings.length, v.params.trigger === 'both' ? 2 : 1, v.name);
      for (const [id, props] of mappings) {
        const present = controls.filter((k) => props[k] !== undefined);
        assert.deepEqual(present, v.params.scaling === 'provisioned' ? controls : [], `${v.name} ${id}`);
      }
    }
    assert.equal(eventSourceMappings(result('none').template as CfnTemplate).length, 0);
  });

  test('with two routes: one mapping per route and trigger, each with its own topic, group and destination', () => {
    const uri: Record<string, (topic: string) => string> = {
      kafka: (topic) => `kafka://${topic}-failed`,
      s3: () => 'arn:aws:s3:::quotes-sink-failed-batches',
      sqs: () => 'arn:aws:sqs:eu-west-1:123456789012:quotes-sink-failed-batches',
    };
    for (const v of twoRoutes) {
      const mappings = eventSourceMappings(result(v.name).template as CfnTemplate).map(([, p]) => p);
      const perTrigger = { none: 0, kafka: 1, msk: 1, both: 2 }[v.params.trigger] as number;
      assert.equal(mappings.length, 2 * perTrigger, v.name);
      for (const p of mappings) {
        const topic = (p.Topics as string[])[0];
        const group = (
          (p.SelfManagedKafkaEventSourceConfig ?? p.AmazonManagedKafkaEventSourceConfig) as {
            ConsumerGroupId: string;
          }
        ).ConsumerGroupId;
        assert.equal(group, topic === 'quotes' ? 'quotes-sink-ci' : 'quotes-sink-ci-orders', v.name);
        const destination = uri[v.params.destination](topic);
        assert.deepEqual(p.DestinationConfig, { OnFailure: { Destination: destination } }, v.name);
      }
      assert.deepEqual(mappings.map((p) => (p.Topics as string[])[0]).sort(), [
        ...Array(perTrigger).fill('orders'),
        ...Array(perTrigger).fill('quotes'),
      ]);
      const statements = roleStatementsOf(result(v.name).template as CfnTemplate);
      const writes = statements.filter((st) => ([] as string[]).concat(st.Action).includes('kafka-cluster:WriteData'));
      const written = writes
        .flatMap((st) => ([] as string[]).concat(st.Resource as string))
        .map((r) => r.split('/').pop());
      const withMsk = ['msk', 'both'].includes(v.params.trigger) && v.params.destination === 'kafka';
      assert.deepEqual(written, withMsk ? ['quotes-failed', 'orders-failed'] : [], v.name);
    }
  });

  test('the chosen on-failure destination is on every mapping', () => {
    const uri: Record<string, string> = {
      kafka: 'kafka://quotes-failed',
      s3: 'arn:aws:s3:::quotes-sink-failed-batches',
      sqs: 'arn:aws:sqs:eu-west-1:123456789012:quotes-sink-failed-batches',
    };
    for (const v of variants.filter((x) => x.params.trigger !== 'none')) {
      for (const [, props] of eventSourceMappings(result(v.name).template as CfnTemplate)) {
        assert.deepEqual(props.DestinationConfig, { OnFailure: { Destination: uri[v.params.destination] } }, v.name);
      }
    }
  });

  test('each role has exactly what its trigger and destination need, on named resources', () => {
    for (const v of [...variants, ...twoRoutes]) {
      const statements = roleStatementsOf(result(v.name).template as CfnTemplate);
      const actions = [...new Set(statements.flatMap((s) => ([] as string[]).concat(s.Action)))].sort();
      assert.deepEqual(actions, expectedActions(v), v.name);
      for (const s of statements) {
        const wildcard = ([] as unknown[]).concat(s.Resource).includes('*');
        // AWS documents Lambda's VPC networking actions on "*" only.
        assert.ok(
          !wildcard || ([] as string[]).concat(s.Action).every((a) => a.startsWith('ec2:')),
          `${v.name}: ${JSON.stringify(s)}`,
        );
      }
    }
  });

  test('a new topic and cluster name package: mappings found by type, IAM follows the names', () => {
    const t = result('renamed').template as CfnTemplate;
    const mappings = eventSourceMappings(t);
    assert.equal(mappings.length, 2);
    const defaults = eventSourceMappings(result('both-provisioned-kafka').template as CfnTemplate).map(([id]) => id);
    for (const [id, props] of mappings) {
      assert.ok(!defaults.includes(id), `${id} is a new logical ID`);
      assert.deepEqual(props.Topics, ['prices.v2']);
      assert.equal(props.MaximumRetryAttempts, 10);
      assert.deepEqual(props.DestinationConfig, { OnFailure: { Destination: 'kafka://prices.v2-failed' } });
    }
    const resources = roleStatementsOf(t).flatMap((s) => ([] as unknown[]).concat(s.Resource));
    assert.ok(
      resources.includes(
        'arn:aws:kafka:eu-west-1:123456789012:topic/other-cluster_1/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d-7/prices.v2-failed',
      ),
    );
  });

  test('npm run doctor: --help, a clean template, and one violation explained in one line', async () => {
    const help = await runCommand(TSX, ['cli/doctor.ts', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /usage: npm run doctor/);
    const clean = await runCommand(TSX, [
      'cli/doctor.ts',
      '--template',
      result('msk-provisioned-kafka').templateFile as string,
    ]);
    assert.equal(clean.code, 0, clean.stdout + clean.stderr);
    assert.match(clean.stdout, /no problems/);
    const bad = await runCommand(TSX, ['cli/doctor.ts', '--template', result('loop').templateFile as string]);
    assert.equal(bad.code, 1, bad.stdout + bad.stderr);
    const lines = bad.stdout.split('\n').filter((l) => l.includes('✗'));
    assert.equal(lines.length, 1, bad.stdout);
    assert.match(
      lines[0],
      /\[destination-not-source\] destination topic "quotes" is the source topic.*kafka-on-failure-destination/,
    );
  });
  test('npm run doctor with two routes: passes on the shipped files, one line for each rule it checks', async () => {
    const file = result('both-provisioned-kafka-routes').templateFile as string;
    const doctor = (env: Record<string, string>) =>
      runCommand(TSX, ['cli/doctor.ts', '--template', file], { SINK_FILE: 'examples/orders/sink.yaml', ...env });
    const clean = await doctor({});
    assert.equal(clean.code, 0, clean.stdout + clean.stderr);
    assert.match(clean.stdout, /ok {3}sink file examples\/orders\/sink\.yaml \(2 routes\)\n.*\(4 mappings\)/);
    const failing = (out: string) => out.split('\n').filter((l) => l.includes('✗'));
    const cases: [Record<string, string>, RegExp][] = [
      [
        { POSTGRES_QUOTES_TABLE: 'orders' },
        /route orders: \[route-names-distinct\] table "orders" is route quotes's already$/,
      ],
      [
        { MONGO_COLLECTION: 'system.x' },
        /route quotes: \[route-names-legal\] collection "system\.x" is not a name MongoDB takes$/,
      ],
      [
        { KAFKA_TOPIC: 'orders' },
        /route orders: \[topic-routed-twice\] topic "orders" is routed by route quotes already$/,
      ],
      [
        { KAFKA_TOPIC: 'orders-failed' },
        /route orders: \[destination-routed\] destination topic "orders-failed" is routed by route quotes$/,
      ],
    ];
    for (const [env, line] of cases) {
      const bad = await doctor(env);
      assert.equal(bad.code, 1, JSON.stringify(env) + bad.stdout + bad.stderr);
      assert.equal(failing(bad.stdout).length, 1, bad.stdout);
      assert.match(failing(bad.stdout)[0], line);
    }
    // A sink file routing one topic twice does not load: the loader's one line, exit 2.
    const twice = path.join(tmp, 'twice.yaml');
    writeFileSync(
      twice,
      readFileSync(path.join(PROJECT_ROOT, 'examples/orders/sink.yaml'), 'utf8').replace(
        'topic: orders',
        'topic: quotes',
      ),
    );
    writeFileSync(
      path.join(tmp, 'quotes.schema.json'),
      readFileSync(path.join(PROJECT_ROOT, 'schemas/quotes.schema.json')),
    );
    writeFileSync(
      path.join(tmp, 'orders.schema.json'),
      readFileSync(path.join(PROJECT_ROOT, 'examples/orders/orders.schema.json')),
    );
    const loop = await doctor({ SINK_FILE: twice });
    assert.equal(loop.code, 2, loop.stdout + loop.stderr);
    const lines = loop.stderr.split('\n').filter((l) => l.includes('$.'));
    assert.deepEqual(lines.length, 1, loop.stderr);
    assert.match(
      lines[0],
      /twice\.yaml: route orders: \$\.routes\.orders\.topic: topic quotes is routed by route quotes already/,
    );
  });
});

/** The summary `serverless invoke local` prints (the last JSON object on stdout). */
function summaryFrom(stdout: string): BatchSummary {
  const start = stdout.lastIndexOf('\n{\n');
  return JSON.parse(stdout.slice(start >= 0 ? start + 1 : stdout.indexOf('{')));
}

describe('serverless invoke local', () => {
  let sb: Sandbox;
  before(async () => (sb = await sandbox('invoke')));
  after(() => sb.close());

  const invoke = async (fixture: string) => {
    const envArgs = Object.entries({ ...sb.env, LOG_LEVEL: 'silent' }).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
    const r = await runCommand(SERVERLESS, [
      'invoke',
      'local',
      '-f',
      'sink',
      '-p',
      `test/fixtures/${fixture}`,
      ...envArgs,
    ]);
    assert.equal(r.code, 0, `invoke local failed:\n${r.stdout}\n${r.stderr}`);
    return summaryFrom(r.stdout);
  };

  test('each fixture three times: rows, documents and dead letters written once', async () => {
    const first = await invoke('msk-event.json');
    assert.deepEqual(first.stores.postgres, { written: 4, alreadyPresent: 0 });
    for (let i = 0; i < 2; i++)
      assert.deepEqual((await invoke('msk-event.json')).stores.mongo, { written: 0, alreadyPresent: 4 });
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
      const client = new LambdaClient({
        endpoint: `http://127.0.0.1:${lambdaPort}`,
        region: 'eu-west-1',
        credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      });
      const payload = readFileSync(path.join(__dirname, '..', 'fixtures', 'msk-event.json'));
      const res = await client.send(new InvokeCommand({ FunctionName: 'quotes-sink-local-sink', Payload: payload }));
      assert.equal(res.FunctionError, undefined, Buffer.from(res.Payload ?? []).toString());
      const summary = JSON.parse(Buffer.from(res.Payload ?? []).toString());
      assert.deepEqual(summary.stores.postgres, { written: 4, alreadyPresent: 0 });
      const bad = await client.send(
        new InvokeCommand({ FunctionName: 'quotes-sink-local-sink', Payload: Buffer.from('{"records": {}}') }),
      );
      assert.equal(bad.FunctionError, 'Unhandled', 'an invalid event is a function error');
      assert.deepEqual(await sb.counts(), { rows: 4, docs: 4, deadLetters: 2 });
    } finally {
      await stopCommand(offline.child);
    }
  });
});
