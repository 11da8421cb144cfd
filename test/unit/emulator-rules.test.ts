/**
 * The deployed configuration, locally: FilterCriteria's syntax, the destination's documents, and the
 * settings taken from a packaged template (checked against AWS's rules, flags overriding).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { parseLocalOptions, templateFile } from '../../cli/local';
import { loadConfig } from '../../lib/config';
import { retryFrom } from '../../tools/emulator/delivery';
import {
  DestinationTooSmallError,
  destinationMaxMessageBytes,
  folderDestination,
  kafkaDestination,
  kafkaFailureRecord,
  s3InvocationRecord,
} from '../../tools/emulator/destination';
import { matchesPattern, parseFilters, passesFilters } from '../../tools/emulator/filter';
import { MappingRejectedError } from '../../tools/emulator/mapping';
import { resolveSettings } from '../../tools/emulator/settings';
import type { KafkaEventRecord } from '../../lib/event/types';

const record = (offset: number, value: unknown, key: string | null = null, partition = 0): KafkaEventRecord => ({
  topic: 'quotes',
  partition,
  offset,
  timestamp: 1_700_000_000_000 + offset,
  timestampType: 'CREATE_TIME',
  key: key === null ? null : Buffer.from(key).toString('base64'),
  value: Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64'),
  headers: [],
});

test('filter syntax: exact, prefix, suffix, numeric, exists, anything-but, equals-ignore-case, nesting, arrays', () => {
  const v = { character: 'Homer Simpson', n: 5, tags: ['a', 'b'], nested: { ok: true }, nothing: null };
  const yes = [
    { character: ['Homer Simpson'] },
    { character: [{ prefix: 'Homer' }] },
    { character: [{ suffix: 'Simpson' }] },
    { character: [{ 'equals-ignore-case': 'homer simpson' }] },
    { n: [{ numeric: ['>', 0, '<=', 5] }] },
    { n: [{ numeric: ['=', 5] }] },
    { n: [{ exists: true }] },
    { missing: [{ exists: false }] },
    { character: [{ 'anything-but': ['Bart'] }] },
    { character: [{ 'anything-but': { prefix: 'Bart' } }] },
    { tags: ['b'] },
    { nested: { ok: [true] } },
    { nothing: [null] },
    { character: ['Bart', 'Homer Simpson'] },
  ];
  for (const p of yes) assert.equal(matchesPattern(p, v), true, JSON.stringify(p));
  const no = [
    { character: ['Homer'] },
    { character: [{ prefix: 'Bart' }] },
    { n: [{ numeric: ['>', 5] }] },
    { n: [{ exists: false }] },
    { missing: [{ exists: true }] },
    { character: [{ 'anything-but': 'Homer Simpson' }] },
    { nested: { ok: [false] } },
    { n: ['5'] },
  ];
  for (const p of no) assert.equal(matchesPattern(p, v), false, JSON.stringify(p));
});

test('filters see the decoded value (JSON when it parses) and key, and match if any filter does', () => {
  const filters = parseFilters(['{"value":{"character":[{"prefix":"Bart"}]}}', '{"key":["k1"]}']);
  assert.equal(passesFilters(filters, record(0, { character: 'Bart' })), true);
  assert.equal(passesFilters(filters, record(1, { character: 'Homer' }, 'k1')), true);
  assert.equal(passesFilters(filters, record(2, { character: 'Homer' }, 'k2')), false);
  assert.equal(passesFilters(parseFilters(['{"value":[{"prefix":"plain"}]}']), record(3, 'plain text')), true);
  assert.equal(passesFilters([], record(4, 'x')), true);
  assert.throws(() => parseFilters(['{nope']), /not valid JSON/);
});

test('retryFrom: per partition from the lowest failed offset; undefined for unknown or malformed identifiers', () => {
  const rs = [record(0, 1), record(1, 1), record(2, 1), record(5, 1, null, 1), record(6, 1, null, 1)];
  const id = (tp: string, offset: unknown) => ({ itemIdentifier: { 'topic-partition': tp, offset } });
  assert.deepEqual(
    retryFrom(rs, [id('quotes-0', 2), id('quotes-0', 1)])?.map((r) => `${r.partition}@${r.offset}`),
    ['0@1', '0@2'],
  );
  assert.deepEqual(
    retryFrom(rs, [id('quotes-1', '6')])?.map((r) => r.offset),
    [6],
  );
  assert.equal(retryFrom(rs, [id('quotes-9', 0)]), undefined);
  assert.equal(retryFrom(rs, [id('quotes-0', 3)]), undefined);
  assert.equal(retryFrom(rs, [id('quotes-0', 'x')]), undefined);
  assert.equal(retryFrom(rs, [{}]), undefined);
});

test('the S3 object is the invocation record: requestContext, responseContext, version, timestamp, KafkaBatchInfo, payload', () => {
  const rs = [record(4, { a: 1 }), record(5, { a: 2 })];
  const doc = s3InvocationRecord(
    { records: rs, condition: 'RetryAttemptsExhausted', invokeCount: 3, error: new Error('x') },
    { source: 'self-managed', bootstrapServers: 'b:9092' },
    Date.parse('2026-01-01T00:00:00Z'),
  ) as Record<string, Record<string, unknown>>;
  assert.deepEqual(Object.keys(doc), [
    'requestContext',
    'responseContext',
    'version',
    'timestamp',
    'KafkaBatchInfo',
    'payload',
  ]);
  assert.equal(doc.requestContext.condition, 'RetryAttemptsExhausted');
  assert.equal(doc.requestContext.approximateInvokeCount, 3);
  assert.equal(doc.responseContext.functionError, 'Unhandled');
  assert.equal(doc.version, '1.0');
  assert.equal(doc.timestamp, '2026-01-01T00:00:00.000Z');
  assert.equal(doc.KafkaBatchInfo.batchSize, 2);
  assert.deepEqual((doc.KafkaBatchInfo.recordsInfo as Record<string, object>)['quotes-0'], {
    firstRecordOffset: '4',
    firstRecordTimestamp: new Date(1_700_000_000_004).toISOString(),
    lastRecordOffset: '5',
    lastRecordTimestamp: new Date(1_700_000_000_005).toISOString(),
  });
  assert.deepEqual(doc.payload.records, { 'quotes-0': rs });
  assert.equal(doc.payload.eventSource, 'SelfManagedKafka');
});

test('the Kafka destination message is the invocation record of one record, with recordInfo', () => {
  const r = record(9, { a: 1 }, 'k');
  const doc = kafkaFailureRecord(
    r,
    { records: [r], condition: 'RecordAgeExceeded', invokeCount: 0 },
    { source: 'msk', bootstrapServers: 'b:9092' },
  ) as Record<string, Record<string, unknown>>;
  assert.equal(doc.responseContext, null, 'never invoked');
  assert.equal(doc.KafkaBatchInfo.batchSize, 1);
  assert.deepEqual(doc.KafkaBatchInfo.recordInfo, { offset: '9', timestamp: new Date(r.timestamp).toISOString() });
  assert.match(String(doc.KafkaBatchInfo.eventSourceArn), /^arn:aws:kafka:/);
  assert.deepEqual(doc.payload.records, { 'quotes-0': [r] });
});

test('the folder destination writes one JSON file per failed batch', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'dest-'));
  const d = folderDestination(dir, { source: 'self-managed', bootstrapServers: 'b:9092' });
  await d.send({ records: [record(1, 1)], condition: 'RetryAttemptsExhausted', invokeCount: 2 });
  const files = readdirSync(dir);
  assert.equal(files.length, 1);
  assert.match(files[0], /quotes-0-1-.*\.json$/);
  assert.equal(JSON.parse(readFileSync(path.join(dir, files[0]), 'utf8')).KafkaBatchInfo.batchSize, 1);
});

// Settings from a template ------------------------------------------------------------------------

function template(props: Record<string, unknown>): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'tpl-')), 'template.json');
  const base = {
    Topics: ['quotes'],
    SelfManagedEventSource: { Endpoints: { KafkaBootstrapServers: ['b:9092'] } },
    StartingPosition: 'TRIM_HORIZON',
  };
  writeFileSync(
    file,
    JSON.stringify({
      Resources: { M: { Type: 'AWS::Lambda::EventSourceMapping', Properties: { ...base, ...props } } },
    }),
  );
  return file;
}

const config = () =>
  loadConfig({
    KAFKA_BROKERS: 'b:9092',
    KAFKA_GROUP_ID: 'env-group',
    POSTGRES_URL: 'postgres://u:p@h/d',
    MONGO_URL: 'mongodb://h/',
  } as NodeJS.ProcessEnv);

test('a template sets batch size, window, starting position, group, retries, age, bisect, partial responses, filters', async () => {
  const file = template({
    BatchSize: 7,
    MaximumBatchingWindowInSeconds: 2,
    StartingPosition: 'AT_TIMESTAMP',
    StartingPositionTimestamp: 1_700_000_000,
    SelfManagedKafkaEventSourceConfig: { ConsumerGroupId: 'deployed-group' },
    ProvisionedPollerConfig: { MinimumPollers: 1, MaximumPollers: 2 },
    MaximumRetryAttempts: 2,
    MaximumRecordAgeInSeconds: 120,
    BisectBatchOnFunctionError: true,
    FunctionResponseTypes: ['ReportBatchItemFailures'],
    FilterCriteria: { Filters: [{ Pattern: '{"value":{"character":["Homer"]}}' }] },
  });
  const r = await resolveSettings(
    parseLocalOptions(['--from-template', file]),
    config(),
    templateFile(parseLocalOptions(['--from-template', file])),
  );
  assert.equal(r.batchSize, 7);
  assert.equal(r.windowMs, 2_000);
  assert.equal(r.startingPosition, 'AT_TIMESTAMP');
  assert.equal(r.startingTimestampMs, 1_700_000_000_000);
  assert.equal(r.groupId, 'deployed-group');
  assert.equal(r.attempts, 3, 'two retries: three invocations');
  assert.equal(r.policy.maxRecordAgeMs, 120_000);
  assert.equal(r.policy.bisect, true);
  assert.equal(r.policy.reportBatchItemFailures, true);
  assert.equal(r.partialResponses, true);
  assert.deepEqual(r.policy.filters, [{ value: { character: ['Homer'] } }]);
});

test('flags override the template', async () => {
  const file = template({ BatchSize: 7, SelfManagedKafkaEventSourceConfig: { ConsumerGroupId: 'deployed' } });
  const o = parseLocalOptions([
    '--from-template',
    file,
    '--batch-size',
    '3',
    '--group-id',
    'mine',
    '--max-attempts',
    '0',
  ]);
  const r = await resolveSettings(o, config(), templateFile(o));
  assert.equal(r.batchSize, 3);
  assert.equal(r.groupId, 'mine');
  assert.equal(r.attempts, 'forever');
});

test('infinite retries with a destination become 10 retries, as in AWS', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 's3-'));
  const file = template({
    ProvisionedPollerConfig: {},
    DestinationConfig: { OnFailure: { Destination: 'arn:aws:s3:::bucket' } },
  });
  const o = parseLocalOptions(['--from-template', file, '--s3-destination', dir]);
  const r = await resolveSettings(o, config(), templateFile(o));
  assert.equal(r.attempts, 11);
  assert.equal(r.policy.destination?.uri, dir);
});

test('a template AWS would reject is refused, one line per violation', async () => {
  const file = template({
    BatchSize: 20_000,
    MaximumRetryAttempts: 2,
    DestinationConfig: { OnFailure: { Destination: 'kafka://quotes' } },
    FilterCriteria: { Filters: [{ Pattern: '{bad' }] },
  });
  const o = parseLocalOptions(['--from-template', file]);
  await assert.rejects(resolveSettings(o, config(), templateFile(o)), (e: MappingRejectedError) => {
    assert.ok(e instanceof MappingRejectedError);
    assert.ok(e.lines.some((l) => /BatchSize 20000/.test(l)));
    assert.ok(e.lines.some((l) => /MaximumRetryAttempts is an error handling control of provisioned mode/.test(l)));
    assert.ok(e.lines.some((l) => /is the source topic/.test(l)));
    assert.ok(e.lines.some((l) => /not valid JSON/.test(l)));
    assert.ok(e.lines.every((l) => !l.includes('\n')));
    return true;
  });
});

test('--from-template without a path takes the packaged default; no template means the defaults', async () => {
  assert.match(
    parseLocalOptions(['--from-template'])['from-template'] ?? '',
    /\.serverless\/cloudformation-template-update-stack\.json$/,
  );
  assert.match(parseLocalOptions(['--from-template', '--until-idle'])['from-template'] ?? '', /\.serverless/);
  assert.deepEqual(
    templateFile(parseLocalOptions([]), () => false),
    { explicit: false },
  );
  assert.equal(templateFile(parseLocalOptions([]), () => true).file?.endsWith('.json'), true);
  assert.deepEqual(
    templateFile(parseLocalOptions(['--no-template']), () => true),
    { explicit: false },
  );
  const r = await resolveSettings(parseLocalOptions([]), config(), { explicit: false });
  assert.equal(r.batchSize, 100);
  assert.equal(r.windowMs, 500);
  assert.equal(r.groupId, 'env-group');
  assert.equal(r.attempts, 'forever');
});

test('the Kafka destination connects once, even for batches failing at the same time', async () => {
  let connects = 0;
  let up = false;
  const sent: { topic: string; messages: { key: Buffer | null }[] }[] = [];
  const producer = {
    connect: async () => {
      connects++;
      await new Promise((r) => setTimeout(r, 20));
      up = true;
    },
    send: async (m: { topic: string; messages: { key: Buffer | null }[] }) => {
      if (!up) throw new Error('The producer is disconnected');
      sent.push(m);
    },
    disconnect: async () => void (up = false),
  };
  const d = kafkaDestination({ producer: () => producer as never, admin: () => assert.fail('no admin') }, 'failed', {
    source: 'self-managed',
    bootstrapServers: 'b:9092',
  });
  const batch = (o: number) => ({
    records: [record(o, 1, 'k')],
    condition: 'RetryAttemptsExhausted' as const,
    invokeCount: 2,
  });
  await Promise.all([d.send(batch(1)), d.send(batch(2))]);
  assert.equal(connects, 1);
  assert.equal(sent.length, 2);
  assert.deepEqual(sent[0].messages[0].key, Buffer.from('k'));
  await d.close();
  assert.equal(up, false);
});

/** A Kafka destination over a fake producer recording each send, and a fake admin for `open`. */
function fakeKafka(topics: Record<string, number>) {
  const sends: { messages: { value: string }[] }[] = [];
  const created: { topic: string; configEntries?: { name: string; value: string }[] }[] = [];
  const producer = {
    connect: async () => undefined,
    send: async (m: never) => void sends.push(m),
    disconnect: async () => undefined,
  };
  const admin = {
    connect: async () => undefined,
    disconnect: async () => undefined,
    listTopics: async () => Object.keys(topics),
    createTopics: async (o: { topics: typeof created }) => void created.push(...o.topics),
    describeConfigs: async (o: { resources: { name: string }[] }) => ({
      resources: [
        { configEntries: [{ configName: 'max.message.bytes', configValue: String(topics[o.resources[0].name]) }] },
      ],
    }),
  };
  return { kafka: { producer: () => producer as never, admin: () => admin as never }, sends, created };
}
const ctx = { source: 'self-managed' as const, bootstrapServers: 'b:9092' };
const failed = (records: KafkaEventRecord[]) => ({
  records,
  condition: 'RetryAttemptsExhausted' as const,
  invokeCount: 2,
});

test("Kafka destination: a topic the emulator creates fits the source's largest record in base64, plus the envelope", async () => {
  assert.equal(destinationMaxMessageBytes(1_048_588), 1_402_216);
  const f = fakeKafka({ quotes: 1_048_588 });
  const d = kafkaDestination(f.kafka, 'failed', ctx, { sourceTopic: 'quotes' });
  const { info } = await (d.open as NonNullable<typeof d.open>)();
  assert.deepEqual(f.created[0].configEntries, [{ name: 'max.message.bytes', value: '1402216' }]);
  assert.match(info[0], /created destination topic failed with max.message.bytes 1402216/);
  // A record at the source's limit (a 1 MiB value, no key or headers) fits what was created.
  await d.send(failed([record(0, 'x'.repeat(1_048_576 - 100))]));
  assert.equal(f.sends.length, 1);
});

test('Kafka destination: an existing topic too small is a warning at the start, and a record it cannot take one line naming the setting', async () => {
  const f = fakeKafka({ quotes: 1_048_588, failed: 1_048_588 });
  const d = kafkaDestination(f.kafka, 'failed', ctx, { sourceTopic: 'quotes' });
  const { warn } = await (d.open as NonNullable<typeof d.open>)();
  assert.match(warn[0], /destination topic failed has max\.message\.bytes 1048588, below the 1402216/);
  const big = record(7, 'x'.repeat(800 * 1024));
  const err = await d.send(failed([big])).then(
    () => assert.fail('sent'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof DestinationTooSmallError);
  assert.match(
    err.message,
    /^destination topic failed cannot take record quotes\/0\/7: its invocation record needs (\d+) bytes, the topic's max\.message\.bytes is 1048588; set the topic's max\.message\.bytes to at least \1$/,
  );
  assert.equal(f.sends.length, 0, 'nothing half-sent');
});

test("Kafka destination: a batch's messages go in sends that each fit the topic's max.message.bytes", async () => {
  const f = fakeKafka({ quotes: 1_048_588, failed: 1_048_588 });
  const d = kafkaDestination(f.kafka, 'failed', ctx, { sourceTopic: 'quotes' });
  await (d.open as NonNullable<typeof d.open>)();
  // 1000 records of 2 KB: about 3 MB of invocation records, one record batch at the default limit.
  await d.send(failed(Array.from({ length: 1000 }, (_, i) => record(i, 'y'.repeat(2048)))));
  assert.ok(f.sends.length >= 3, `${f.sends.length} sends`);
  assert.equal(f.sends.flatMap((s) => s.messages).length, 1000);
  for (const s of f.sends) {
    const bytes = s.messages.reduce((n, m) => n + Buffer.byteLength(m.value) + 64, 61);
    assert.ok(bytes <= 1_048_588, `a send of ${bytes} bytes`);
  }
});
