/** The deploy side of serverless.yml (tools/deploy/): params, the template patch, IAM per variant, the variant list. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CfnLintMissingError, findCfnLint } from '../../tools/deploy/cfn-lint';
import { MappingSettingsPlugin } from '../../tools/deploy/esm-plugin';
import { DeployParamsError, destinationUri, parseDeployParams, type DeployParams } from '../../tools/deploy/params';
import {
  applyMappingParams,
  checkTemplate,
  mappingProperties,
  mskTopicArn,
  roleStatements,
  type CfnTemplate,
} from '../../tools/deploy/template';
import { deployVariants, mapLimit } from '../../tools/deploy/variants';
import { QuotesSinkError } from '../../lib/errors';

const CLUSTER = 'arn:aws:kafka:eu-west-1:123456789012:cluster/quotes-cluster/5c6a0f1e-2';
const MSK_SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:AmazonMSK_quotes-sink';
const KAFKA_SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:quotes-sink/kafka-scram';

/** custom.mapping as serverless.yml resolves it with --param (numbers and booleans as strings). */
const raw = {
  scaling: 'provisioned',
  minimumPollers: '1',
  maximumPollers: 10,
  maximumRetryAttempts: '10',
  maximumRecordAgeInSeconds: -1,
  bisectBatchOnFunctionError: 'true',
  reportBatchItemFailures: true,
  destination: 'kafka',
  destinationTopic: 'quotes-failed',
  destinationBucketArn: 'arn:aws:s3:::quotes-sink-failed-batches',
  destinationQueueArn: 'arn:aws:sqs:eu-west-1:123456789012:quotes-sink-failed-batches',
  destinationKmsKeyArn: '',
  secretsKmsKeyArn: 'arn:aws:kms:eu-west-1:123456789012:key/1a2b',
};
const params = (change: Partial<Record<keyof DeployParams, unknown>> = {}) => parseDeployParams({ ...raw, ...change });

const msk = () => ({
  EventSourceArn: CLUSTER,
  Topics: ['quotes'],
  StartingPosition: 'TRIM_HORIZON',
  SourceAccessConfigurations: [{ Type: 'SASL_SCRAM_512_AUTH', URI: MSK_SECRET }],
});
const selfManaged = () => ({
  SelfManagedEventSource: { Endpoints: { KafkaBootstrapServers: ['b:9096'] } },
  Topics: ['quotes'],
  StartingPosition: 'TRIM_HORIZON',
  SourceAccessConfigurations: [
    { Type: 'SASL_SCRAM_512_AUTH', URI: KAFKA_SECRET },
    { Type: 'VPC_SUBNET', URI: 'subnet:subnet-1' },
  ],
});

/** A template as the framework compiles it: the role, and mappings under names we do not know in advance. */
function template(mappings: Record<string, Record<string, unknown>>): CfnTemplate {
  const resources: CfnTemplate['Resources'] = {
    IamRoleLambdaExecution: {
      Type: 'AWS::IAM::Role',
      Properties: {
        Policies: [
          { PolicyDocument: { Statement: [{ Effect: 'Allow', Action: ['logs:PutLogEvents'], Resource: '*' }] } },
        ],
      },
    },
  };
  for (const [id, props] of Object.entries(mappings))
    resources[id] = { Type: 'AWS::Lambda::EventSourceMapping', Properties: props };
  return { Resources: resources };
}

const actions = (t: CfnTemplate) =>
  (
    t.Resources.IamRoleLambdaExecution.Properties as {
      Policies: { PolicyDocument: { Statement: { Action: string[] }[] } }[];
    }
  ).Policies[0].PolicyDocument.Statement.flatMap((s) => s.Action).sort();

describe('deploy params', () => {
  test('coerces --param strings, keeps "false" false', () => {
    const p = params({ bisectBatchOnFunctionError: 'false' });
    assert.equal(p.minimumPollers, 1);
    assert.equal(p.maximumRetryAttempts, 10);
    assert.equal(p.bisectBatchOnFunctionError, false);
    assert.equal(p.reportBatchItemFailures, true);
  });

  test('every problem is reported at once, as a QuotesSinkError', () => {
    let err: unknown;
    try {
      params({ scaling: 'auto', minimumPollers: 'one', destination: 'sns', secretsKmsKeyArn: undefined });
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof DeployParamsError && err instanceof QuotesSinkError);
    assert.equal(err.problems.length, 4);
    assert.match(err.message, /scaling.*minimumPollers.*destination.*secretsKmsKeyArn/s);
  });

  test('the destination URI per choice', () => {
    assert.equal(destinationUri(params()), 'kafka://quotes-failed');
    assert.equal(destinationUri(params({ destination: 's3' })), raw.destinationBucketArn);
    assert.equal(destinationUri(params({ destination: 'sqs' })), raw.destinationQueueArn);
  });
});

describe('mapping properties', () => {
  test('provisioned: pollers and every error control', () => {
    assert.deepEqual(mappingProperties(params()), {
      DestinationConfig: { OnFailure: { Destination: 'kafka://quotes-failed' } },
      ProvisionedPollerConfig: { MinimumPollers: 1, MaximumPollers: 10 },
      MaximumRetryAttempts: 10,
      MaximumRecordAgeInSeconds: -1,
      BisectBatchOnFunctionError: true,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    assert.equal(mappingProperties(params({ reportBatchItemFailures: false })).FunctionResponseTypes, undefined);
  });

  test('on-demand: the destination only (AWS rejects the error controls there)', () => {
    assert.deepEqual(mappingProperties(params({ scaling: 'on-demand', destination: 's3' })), {
      DestinationConfig: { OnFailure: { Destination: raw.destinationBucketArn } },
    });
  });
});

describe('applyMappingParams', () => {
  test('patches every mapping found by type, whatever its logical ID (any topic or cluster name)', () => {
    const t = template({
      SinkEventSourceMappingKafkaPricesv2: selfManaged(),
      SinkEventSourceMappingMSKOtherclusterPricesv2: msk(),
    });
    applyMappingParams(t, params());
    const reports = checkTemplate(t);
    assert.equal(reports.length, 2);
    for (const r of reports) {
      assert.deepEqual(r.violations, []);
      assert.equal(r.settings.maximumRetryAttempts, 10);
      assert.equal(r.settings.onFailureDestination, 'kafka://quotes-failed');
    }
  });

  test('no mapping, no extra permission', () => {
    const t = template({});
    applyMappingParams(t, params({ destination: 's3' }));
    assert.deepEqual(actions(t), ['logs:PutLogEvents']);
  });

  // A function answering batchItemFailures to a mapping that does not read them would lose records.
  for (const [scaling, report, expected] of [
    ['provisioned', true, 'true'],
    ['provisioned', false, 'false'],
    ['on-demand', true, 'false'],
  ] as const) {
    test(`SINK_PARTIAL_BATCH_RESPONSE is ${expected} for ${scaling} with reportBatchItemFailures ${report}`, () => {
      const t = template({ M: msk() });
      t.Resources.SinkLambdaFunction = { Type: 'AWS::Lambda::Function', Properties: {} };
      applyMappingParams(t, params({ scaling, reportBatchItemFailures: report }));
      const env = (t.Resources.SinkLambdaFunction.Properties as { Environment: { Variables: Record<string, string> } })
        .Environment.Variables;
      assert.equal(env.SINK_PARTIAL_BATCH_RESPONSE, expected);
    });
  }

  test('a template without the role cannot take the permissions', () => {
    const t = template({ M: msk() });
    delete t.Resources.IamRoleLambdaExecution;
    assert.throws(() => applyMappingParams(t, params()), QuotesSinkError);
  });
});

describe('IAM per variant', () => {
  const sids = (mappings: Record<string, unknown>[], p: DeployParams) => roleStatements(mappings, p).map((s) => s.Sid);

  test('MSK: its secret, the secrets key via Secrets Manager, WriteData on the destination topic', () => {
    const st = roleStatements([msk()], params());
    assert.deepEqual(
      st.map((s) => s.Sid),
      ['MskSecret', 'SecretsKey', 'KafkaDestination'],
    );
    assert.deepEqual(st[0].Resource, [MSK_SECRET]);
    assert.deepEqual(st[1].Action, ['kms:Decrypt']);
    assert.equal(st[1].Resource, raw.secretsKmsKeyArn);
    assert.ok(st[1].Condition?.StringEquals, 'kms:Decrypt only through Secrets Manager');
    assert.deepEqual(st[2].Resource, [
      'arn:aws:kafka:eu-west-1:123456789012:topic/quotes-cluster/5c6a0f1e-2/quotes-failed',
    ]);
  });

  test('self-managed Kafka: the framework grants its secret; Kafka-topic destinations go by Kafka ACLs', () => {
    assert.deepEqual(sids([selfManaged()], params()), ['SecretsKey']);
  });

  test('S3: PutObject on the objects, ListBucket on the bucket, the bucket key when given', () => {
    const st = roleStatements([selfManaged()], params({ destination: 's3' }));
    assert.deepEqual(
      st.map((s) => [s.Action, s.Resource]),
      [
        [['kms:Decrypt'], raw.secretsKmsKeyArn],
        [['s3:PutObject'], `${raw.destinationBucketArn}/*`],
        [['s3:ListBucket'], raw.destinationBucketArn],
      ],
    );
    const key = 'arn:aws:kms:eu-west-1:123456789012:key/bucket';
    const withKey = roleStatements([selfManaged()], params({ destination: 's3', destinationKmsKeyArn: key }));
    assert.deepEqual(withKey.at(-1), {
      Sid: 'DestinationKey',
      Effect: 'Allow',
      Action: ['kms:GenerateDataKey'],
      Resource: key,
    });
  });

  test('SQS: SendMessage on the queue (and Decrypt + GenerateDataKey on its key)', () => {
    assert.deepEqual(sids([msk()], params({ destination: 'sqs' })), ['MskSecret', 'SecretsKey', 'SqsDestination']);
    const key = 'arn:aws:kms:eu-west-1:123456789012:key/queue';
    const st = roleStatements([msk()], params({ destination: 'sqs', destinationKmsKeyArn: key }));
    assert.deepEqual(st.at(-1)?.Action, ['kms:Decrypt', 'kms:GenerateDataKey']);
  });

  test('both triggers: one statement per need, every MSK cluster', () => {
    assert.deepEqual(sids([selfManaged(), msk()], params()), ['MskSecret', 'SecretsKey', 'KafkaDestination']);
    assert.deepEqual(roleStatements([], params()), []);
  });

  test("MSK topic ARNs follow the cluster's", () => {
    assert.equal(
      mskTopicArn('arn:aws:kafka:us-east-1:111122223333:cluster/c-1/abc-2', 'dlt'),
      'arn:aws:kafka:us-east-1:111122223333:topic/c-1/abc-2/dlt',
    );
  });
});

describe('the plugin', () => {
  test('patches the compiled template and warns (without failing) about rule violations', () => {
    const compiled = template({ A: { ...msk(), Topics: ['quotes-failed'] } });
    const warnings: string[] = [];
    const serverless = {
      service: { custom: { mapping: raw }, provider: { compiledCloudFormationTemplate: compiled } },
    };
    const plugin = new MappingSettingsPlugin(serverless, {}, { log: { warning: (m) => warnings.push(m) } });
    plugin.hooks['after:package:compileEvents']();
    assert.equal(compiled.Resources.A.Properties?.MaximumRetryAttempts, 10);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /^A: \[destination-not-source\]/);
  });

  test('bad params stop packaging with every problem named', () => {
    const serverless = {
      service: {
        custom: { mapping: { ...raw, scaling: 'sometimes' } },
        provider: { compiledCloudFormationTemplate: template({}) },
      },
    };
    assert.throws(() => new MappingSettingsPlugin(serverless, {}).apply(), /scaling/);
  });
});

describe('variants', () => {
  test('trigger × scaling × destination, and one for trigger none', () => {
    const all = deployVariants();
    assert.equal(all.length, 1 + 3 * 2 * 3);
    assert.equal(new Set(all.map((v) => v.name)).size, all.length);
    assert.deepEqual(all[0], { name: 'none', params: { trigger: 'none' } });
    assert.deepEqual(
      deployVariants({ trigger: 'msk', scaling: 'provisioned', topic: 'prices' }).map((v) => v.name),
      ['msk-provisioned-kafka', 'msk-provisioned-s3', 'msk-provisioned-sqs'],
    );
    assert.equal(deployVariants({ topic: 'prices' })[5].params.topic, 'prices');
  });

  test('mapLimit keeps order and never runs more than the limit at once', async () => {
    let running = 0;
    let peak = 0;
    const out = await mapLimit([5, 1, 3, 2, 4], 2, async (n) => {
      peak = Math.max(peak, ++running);
      await new Promise((r) => setTimeout(r, n));
      running--;
      return n * 10;
    });
    assert.deepEqual(out, [50, 10, 30, 20, 40]);
    assert.equal(peak, 2);
  });
});

describe('cfn-lint lookup', () => {
  test('missing cfn-lint is an error that says how to install it, never a skip', () => {
    assert.throws(
      () => findCfnLint({ PATH: '/nonexistent', CFN_LINT: '/nonexistent/cfn-lint' }, '/nonexistent/venv/bin/cfn-lint'),
      (e: unknown) => e instanceof CfnLintMissingError && /pip install cfn-lint/.test(e.message),
    );
  });
});
