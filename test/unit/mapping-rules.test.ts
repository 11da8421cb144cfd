/** AWS's rules for Kafka event source mappings (tools/deploy/mapping-rules.ts): one test per rule, then defaults. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  checkMapping,
  destinationKind,
  effectiveMapping,
  keepsRecords,
  mappingNotes,
  RETRIES_WITH_DESTINATION,
  RULES,
  settingsFromCloudFormation,
  type MappingSettings,
} from '../../tools/deploy/mapping-rules';

/** A mapping AWS accepts: provisioned, every error control set, a Kafka-topic destination. */
const good: MappingSettings = {
  source: 'msk',
  topics: ['quotes'],
  batchSize: 1000,
  maximumBatchingWindowInSeconds: 1,
  startingPosition: 'TRIM_HORIZON',
  consumerGroupId: 'quotes-sink-prod',
  provisionedPollers: { minimum: 1, maximum: 10 },
  maximumRetryAttempts: 10,
  maximumRecordAgeInSeconds: -1,
  bisectBatchOnFunctionError: true,
  functionResponseTypes: ['ReportBatchItemFailures'],
  onFailureDestination: 'kafka://quotes-failed',
};

/** The rule ids `checkMapping` reports for `good` changed by `change`. */
const rulesBroken = (change: Partial<MappingSettings>) => checkMapping({ ...good, ...change }).map((v) => v.rule);

describe('every rule', () => {
  test('accepts the reference mapping, and an on-demand one without error controls', () => {
    assert.deepEqual(checkMapping(good), []);
    const onDemand: MappingSettings = { source: 'self-managed', topics: ['quotes'], startingPosition: 'LATEST' };
    assert.deepEqual(checkMapping({ ...onDemand, onFailureDestination: 'arn:aws:s3:::bucket' }), []);
  });

  test('cites an AWS documentation page', () => {
    for (const rule of RULES) assert.match(rule.source, /^https:\/\/docs\.aws\.amazon\.com\/lambda\//, rule.id);
    assert.equal(new Set(RULES.map((r) => r.id)).size, RULES.length, 'rule ids are unique');
  });

  test('violations carry the rule, a one-line message and the page', () => {
    const [v] = checkMapping({ ...good, batchSize: 20_000 });
    assert.equal(v.rule, 'batch-size');
    assert.doesNotMatch(v.message, /\n/);
    assert.match(v.source, /API_CreateEventSourceMapping/);
  });
});

describe('topic', () => {
  test('exactly one valid topic name', () => {
    assert.deepEqual(rulesBroken({ topics: [] }), ['topic']);
    assert.deepEqual(rulesBroken({ topics: ['a', 'b'] }), ['topic']);
    assert.deepEqual(rulesBroken({ topics: ['.hidden'] }), ['topic']);
    assert.deepEqual(rulesBroken({ topics: ['has space'] }), ['topic']);
    assert.deepEqual(rulesBroken({ topics: ['x'.repeat(250)] }), ['topic']);
    assert.deepEqual(rulesBroken({ topics: ['prices.v2_eu-1'] }), []);
  });
});

describe('batch-size', () => {
  test('1..10000 whole records', () => {
    for (const ok of [1, 100, 10_000, undefined]) assert.deepEqual(rulesBroken({ batchSize: ok }), [], String(ok));
    for (const bad of [0, 10_001, 1.5, -3])
      assert.deepEqual(rulesBroken({ batchSize: bad }), ['batch-size'], String(bad));
  });
});

describe('batching-window', () => {
  test('0..300 whole seconds', () => {
    for (const ok of [0, 1, 300, undefined]) assert.deepEqual(rulesBroken({ maximumBatchingWindowInSeconds: ok }), []);
    for (const bad of [301, -1, 0.5]) {
      assert.deepEqual(rulesBroken({ maximumBatchingWindowInSeconds: bad }), ['batching-window'], String(bad));
    }
  });
});

describe('starting-position', () => {
  test('required, one of three, and AT_TIMESTAMP goes with a timestamp only', () => {
    assert.deepEqual(rulesBroken({ startingPosition: undefined }), ['starting-position']);
    assert.deepEqual(rulesBroken({ startingPosition: 'EARLIEST' }), ['starting-position']);
    assert.deepEqual(rulesBroken({ startingPosition: 'AT_TIMESTAMP' }), ['starting-position']);
    assert.deepEqual(rulesBroken({ startingPosition: 'AT_TIMESTAMP', startingPositionTimestamp: 1_735_689_600 }), []);
    assert.deepEqual(rulesBroken({ startingPosition: 'LATEST', startingPositionTimestamp: 1_735_689_600 }), [
      'starting-position',
    ]);
  });
});

describe('consumer-group-id', () => {
  test('1..200 characters of the allowed set', () => {
    assert.deepEqual(rulesBroken({ consumerGroupId: 'a/b:c_d+e=f.g@h*i-j' }), []);
    assert.deepEqual(rulesBroken({ consumerGroupId: '' }), ['consumer-group-id']);
    assert.deepEqual(rulesBroken({ consumerGroupId: 'has space' }), ['consumer-group-id']);
    assert.deepEqual(rulesBroken({ consumerGroupId: 'g'.repeat(201) }), ['consumer-group-id']);
  });
});

describe('provisioned-pollers', () => {
  test('minimum 1..200, maximum 1..2000, minimum not above maximum', () => {
    assert.deepEqual(rulesBroken({ provisionedPollers: { minimum: 200, maximum: 2000 } }), []);
    assert.deepEqual(rulesBroken({ provisionedPollers: { minimum: 0, maximum: 10 } }), ['provisioned-pollers']);
    assert.deepEqual(rulesBroken({ provisionedPollers: { minimum: 201, maximum: 2000 } }), ['provisioned-pollers']);
    assert.deepEqual(rulesBroken({ provisionedPollers: { minimum: 1, maximum: 2001 } }), ['provisioned-pollers']);
    assert.deepEqual(rulesBroken({ provisionedPollers: { minimum: 5, maximum: 4 } }), ['provisioned-pollers']);
    // Left out, AWS uses 1 and 200: a minimum of 150 alone is fine, a maximum of 0 is not.
    assert.deepEqual(rulesBroken({ provisionedPollers: { minimum: 150 } }), []);
  });
});

describe('provisioned-mode-only', () => {
  test('each error handling control without ProvisionedPollerConfig is one violation', () => {
    const v = checkMapping({ ...good, provisionedPollers: undefined });
    assert.deepEqual(
      v.map((x) => x.rule),
      Array(4).fill('provisioned-mode-only'),
    );
    assert.match(v.map((x) => x.message).join('\n'), /MaximumRetryAttempts[\s\S]*MaximumRecordAgeInSeconds/);
    assert.match(v.map((x) => x.message).join('\n'), /BisectBatchOnFunctionError[\s\S]*FunctionResponseTypes/);
  });

  test('the on-failure destination alone does not need provisioned mode', () => {
    const onDemand: MappingSettings = { ...good, provisionedPollers: undefined };
    for (const k of [
      'maximumRetryAttempts',
      'maximumRecordAgeInSeconds',
      'bisectBatchOnFunctionError',
      'functionResponseTypes',
    ] as const) {
      delete onDemand[k];
    }
    assert.deepEqual(checkMapping(onDemand), []);
  });
});

describe('retry-ranges', () => {
  test('retries -1 or 0..10000, record age -1 or 60..604800 seconds', () => {
    for (const ok of [-1, 0, 10_000]) assert.deepEqual(rulesBroken({ maximumRetryAttempts: ok }), []);
    for (const bad of [-2, 10_001, 2.5]) assert.deepEqual(rulesBroken({ maximumRetryAttempts: bad }), ['retry-ranges']);
    for (const ok of [-1, 60, 604_800]) assert.deepEqual(rulesBroken({ maximumRecordAgeInSeconds: ok }), []);
    for (const bad of [0, 59, 604_801]) {
      assert.deepEqual(rulesBroken({ maximumRecordAgeInSeconds: bad }), ['retry-ranges'], String(bad));
    }
  });
});

describe('function-response-types', () => {
  test('only ReportBatchItemFailures', () => {
    assert.deepEqual(rulesBroken({ functionResponseTypes: ['ReportBatchItemFailures'] }), []);
    assert.deepEqual(rulesBroken({ functionResponseTypes: ['ReportBatchItemFailure'] }), ['function-response-types']);
  });
});

describe('destination-format', () => {
  test('kafka://<topic> or an S3, SQS or SNS ARN, at most 350 characters', () => {
    for (const ok of [
      'kafka://quotes-failed',
      'arn:aws:s3:::quotes-sink-failed',
      'arn:aws:sqs:eu-west-1:123456789012:q',
      'arn:aws:sns:eu-west-1:123456789012:t',
    ]) {
      assert.deepEqual(rulesBroken({ onFailureDestination: ok }), [], ok);
    }
    for (const bad of [
      'quotes-failed',
      'kafka://',
      'kafka://bad topic',
      'arn:aws:lambda:eu-west-1:123456789012:function:f',
    ]) {
      assert.deepEqual(rulesBroken({ onFailureDestination: bad }), ['destination-format'], bad);
    }
    assert.deepEqual(rulesBroken({ onFailureDestination: `arn:aws:s3:::${'b'.repeat(340)}` }), ['destination-format']);
  });
});

describe('destination-not-source', () => {
  test('a Kafka destination must not be the source topic', () => {
    assert.deepEqual(rulesBroken({ onFailureDestination: 'kafka://quotes' }), ['destination-not-source']);
    assert.deepEqual(rulesBroken({ topics: ['quotes-failed'] }), ['destination-not-source']);
  });
});

describe('effective mapping (what AWS runs)', () => {
  test('infinite retries with a destination become 10; without one they stay infinite', () => {
    const infinite = { ...good, maximumRetryAttempts: -1 };
    assert.equal(effectiveMapping(infinite).maximumRetryAttempts, RETRIES_WITH_DESTINATION);
    assert.equal(effectiveMapping({ ...infinite, onFailureDestination: undefined }).maximumRetryAttempts, -1);
    // On-demand mappings have no retry setting at all: the default is infinite, so the same cap applies.
    const onDemand: MappingSettings = {
      source: 'msk',
      topics: ['q'],
      startingPosition: 'LATEST',
      onFailureDestination: 'arn:aws:s3:::b',
    };
    assert.equal(effectiveMapping(onDemand).maximumRetryAttempts, 10);
    assert.equal(effectiveMapping(good).maximumRetryAttempts, 10);
    assert.equal(effectiveMapping({ ...good, maximumRetryAttempts: 3 }).maximumRetryAttempts, 3);
  });

  test("AWS's defaults fill what is left out", () => {
    const e = effectiveMapping({ source: 'self-managed', topics: ['q'], provisionedPollers: {} });
    assert.equal(e.batchSize, 100);
    assert.equal(e.maximumBatchingWindowInSeconds, 0.5);
    assert.equal(e.startingPosition, 'TRIM_HORIZON');
    assert.equal(e.scaling, 'provisioned');
    assert.deepEqual(e.provisionedPollers, { minimum: 1, maximum: 200 });
    assert.equal(e.maximumRecordAgeInSeconds, -1);
    assert.equal(e.bisectBatchOnFunctionError, false);
    assert.equal(e.reportBatchItemFailures, false);
    assert.equal(e.destinationKind, 'none');
    assert.equal(effectiveMapping({ source: 'msk', topics: ['q'] }).scaling, 'on-demand');
  });

  test('which destinations keep the records', () => {
    assert.equal(destinationKind('kafka://x'), 'kafka');
    assert.equal(destinationKind('arn:aws:s3:::b'), 's3');
    assert.equal(destinationKind('arn:aws-cn:sqs:cn-north-1:123456789012:q'), 'sqs');
    assert.equal(destinationKind('arn:aws:sns:eu-west-1:123456789012:t'), 'sns');
    assert.equal(destinationKind(''), 'none');
    assert.deepEqual((['kafka', 's3', 'sqs', 'sns'] as const).map(keepsRecords), [true, true, false, false]);
    assert.equal(effectiveMapping({ ...good, onFailureDestination: 'arn:aws:s3:::b' }).destinationKeepsRecords, true);
  });

  test('notes: the retry cap, metadata-only destinations, no destination', () => {
    assert.deepEqual(mappingNotes({ ...good, onFailureDestination: 'arn:aws:s3:::b' }), []);
    assert.match(mappingNotes({ ...good, maximumRetryAttempts: -1 }).join(), /applies 10/);
    assert.match(
      mappingNotes({ ...good, onFailureDestination: 'arn:aws:sqs:eu-west-1:123456789012:q' }).join(),
      /metadata only/,
    );
    assert.match(mappingNotes({ ...good, onFailureDestination: undefined }).join(), /lost/);
  });

  test("notes: a Kafka destination topic's max.message.bytes must hold a failed record in base64 in its invocation record", () => {
    const notes = mappingNotes({ ...good, onFailureDestination: 'kafka://quotes-failed' });
    assert.equal(notes.length, 1);
    assert.match(
      notes[0],
      /^destination topic quotes-failed: its max\.message\.bytes must hold .* \(1402216 for Kafka's default 1048588\)/,
    );
    assert.match(notes[0], /kafka-on-failure-destination\.html/);
  });
});

describe('settings from a packaged template', () => {
  test("reads the framework's and the plugin's properties", () => {
    const s = settingsFromCloudFormation({
      EventSourceArn: 'arn:aws:kafka:eu-west-1:123456789012:cluster/c/u-1',
      Topics: ['quotes'],
      BatchSize: 321,
      MaximumBatchingWindowInSeconds: 1,
      StartingPosition: 'AT_TIMESTAMP',
      StartingPositionTimestamp: '1735689600',
      AmazonManagedKafkaEventSourceConfig: { ConsumerGroupId: 'g' },
      ProvisionedPollerConfig: { MinimumPollers: 1, MaximumPollers: 10 },
      MaximumRetryAttempts: 10,
      MaximumRecordAgeInSeconds: -1,
      BisectBatchOnFunctionError: true,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      DestinationConfig: { OnFailure: { Destination: 'kafka://quotes-failed' } },
    });
    assert.deepEqual(s, {
      ...good,
      batchSize: 321,
      startingPosition: 'AT_TIMESTAMP',
      startingPositionTimestamp: 1_735_689_600,
      consumerGroupId: 'g',
    });
    const selfManaged = settingsFromCloudFormation({
      SelfManagedEventSource: { Endpoints: { KafkaBootstrapServers: ['b:9096'] } },
      SelfManagedKafkaEventSourceConfig: { ConsumerGroupId: 'sm' },
      Topics: ['quotes'],
    });
    assert.equal(selfManaged.source, 'self-managed');
    assert.equal(selfManaged.consumerGroupId, 'sm');
    assert.equal(selfManaged.provisionedPollers, undefined);
    assert.equal(selfManaged.onFailureDestination, undefined);
  });
});
