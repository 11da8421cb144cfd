/**
 * Issue 19: the recovery tools (dead-letter replay, redrive) and the emulator, through their CLIs,
 * on the native stack: a re-sent record is the record it re-sends, once, whatever the tools do.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildEvent, toEventRecord, type SourceMessage } from '../../tools/emulator/event';
import { redriveMessages } from '../../tools/replay/redrive';
import { createKafka } from '../../tools/kafka';
import { quoteType } from '../helpers/quote-type';
import { processBatch, type BatchOptions } from '../../lib/sink/batch';
import { uniqueName } from '../helpers/env';
import { emulate, lane, readTopic, runEmulator, type Lane } from '../helpers/lane';
import { runCommand, TSX } from '../helpers/run';
import { quotes } from '../helpers/sink';

const b64 = (s: string) => Buffer.from(s).toString('base64');

async function cli(l: Lane, script: string, ...args: string[]): Promise<string> {
  const r = await runCommand(TSX, [`cli/${script}.ts`, ...args], l.env, 120_000);
  assert.equal(r.code, 0, `${script} ${args.join(' ')}:\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** Every message of `topic` from the start, up to its current end: its headers as text, and its value. */
const readAll = async (l: Lane, topic: string) =>
  (await readTopic(l, topic)).map(({ message }) => ({
    headers: Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)])),
    value: message.value?.toString() ?? null,
  }));

const endOf = async (l: Lane, topic = l.topic) =>
  (await l.admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high), 0);

/** Sinks `records` of the lane's topic directly, as a function with these brokers would. */
function sink(l: Lane, records: SourceMessage[], servers = '127.0.0.1:9092', extra: Partial<BatchOptions> = {}) {
  const ev = buildEvent('self-managed', servers, records.map(toEventRecord));
  return processBatch(ev, quoteType, l.sb, {
    tombstones: 'skip',
    identityKey: l.sb.config.SINK_IDENTITY_KEY,
    ...extra,
  });
}
const at = (l: Lane, offset: number, value: string | null, key = 'k', headers?: SourceMessage['headers']) => ({
  topic: l.topic,
  partition: 0,
  offset,
  timestamp: 1_700_000_000_000 + offset,
  key,
  value,
  headers,
});

const pending = async (l: Lane) =>
  (await l.sb.query(`select 1 from ${l.sb.tables.deadLetters} where replayed_at is null`)).length;

describe('finding 3: a redrive is not judged by the original record age', () => {
  let l: Lane;
  let failed: string;
  before(async () => {
    l = await lane('age');
    failed = `${l.topic}-failed`;
    await l.admin.createTopics({ waitForLeaders: true, topics: [{ topic: failed, numPartitions: 1 }] });
  });
  after(async () => {
    await l.admin.deleteTopics({ topics: [failed] }).catch(() => undefined);
    await l.close();
  });

  test('records past maximumRecordAgeInSeconds go to the destination once; redriven, they are stored with their original time', async () => {
    const old = Date.now() - 2 * 3_600_000;
    const producer = createKafka(l.sb.config, 'age-test').producer();
    await producer.connect();
    const values = quotes(5, 300);
    await producer.send({
      topic: l.topic,
      messages: values.map((value, i) => ({ key: `k${i}`, value, timestamp: String(old + i), partition: 0 })),
    });
    await producer.disconnect();
    const aged = ['--until-idle', '--max-record-age', '60', '--destination', `kafka://${failed}`];
    const first = await runEmulator(l, aged);
    assert.equal(first.code, 0, first.output);
    assert.equal(await endOf(l, failed), 5, 'too old: to the destination');
    await cli(l, 'redrive', '--from', `kafka://${failed}`);
    const again = await runEmulator(l, aged);
    assert.equal(again.code, 0, again.output);
    assert.equal(await endOf(l, failed), 5, 'the redriven records are not too old: none back in the destination');
    assert.deepEqual(await l.sb.counts(), { rows: 5, docs: 5, deadLetters: 0 });
    const rows = await l.sb.query<{ kafka_timestamp: Date }>(
      `select kafka_timestamp from ${l.sb.tables.records} order by kafka_timestamp`,
    );
    assert.deepEqual(
      rows.map((r) => r.kafka_timestamp.getTime()),
      values.map((_, i) => old + i),
      'stored with the time they were produced',
    );
  });
});

describe('finding 8: the emulator names the cluster by its id', () => {
  let l: Lane;
  before(async () => (l = await lane('spell')));
  after(() => l.close());

  test('the same records read again through another spelling of the brokers are already there', async () => {
    await cli(l, 'produce', '--synthetic', '30', '--seed', '3');
    await emulate(l, [], { KAFKA_BROKERS: 'localhost:9092' });
    const out = await emulate(l, [], { KAFKA_BROKERS: '127.0.0.1:9092', KAFKA_GROUP_ID: uniqueName('g2') });
    assert.match(out, /30 records, 0 written, 30 already there/);
    assert.deepEqual(await l.sb.counts(), { rows: 30, docs: 30, deadLetters: 0 });
  });
});

describe('finding 9: a dead letter replayed twice is one record', () => {
  let l: Lane;
  before(async () => (l = await lane('twice')));
  after(() => l.close());

  test('sent twice in separate batches (the mark lost between), stored once with its original timestamp', async () => {
    await cli(l, 'produce', '--synthetic', '40', '--invalid-ratio', '0.1', '--seed', '8');
    await emulate(l);
    const before = await l.sb.counts();
    assert.ok(before.deadLetters > 0);
    const original = await l.sb.query<{ offset: string; kafka_timestamp: Date }>(
      `select "offset", kafka_timestamp from ${l.sb.tables.deadLetters} order by partition, "offset"`,
    );
    await l.sb.query(`update ${l.sb.tables.deadLetters} set value_base64 = $1`, [
      b64('{"quote":"Fixed.","character":"Lisa"}'),
    ]);
    await cli(l, 'dead-letters', 'replay', '--all');
    await emulate(l);
    await l.sb.query(`update ${l.sb.tables.deadLetters} set replayed_at = null`); // the mark was lost
    await cli(l, 'dead-letters', 'replay', '--all');
    await emulate(l);
    const after = await l.sb.counts();
    assert.equal(after.rows, before.rows + before.deadLetters, 'each replayed record stored once');
    assert.equal(after.docs, before.docs + before.deadLetters);
    assert.equal(after.deadLetters, before.deadLetters, 'no collision dead letter');
    const stored = await l.sb.query<{ offset: string; kafka_timestamp: Date }>(
      `select r."offset", r.kafka_timestamp from ${l.sb.tables.records} r join ${l.sb.tables.deadLetters} d
       using (cluster, topic, partition, "offset") order by r.partition, r."offset"`,
    );
    assert.deepEqual(stored, original, 'the stored record keeps the original Kafka timestamp');
  });
});

describe('finding 10: collision dead letters converge', () => {
  let l: Lane;
  before(async () => (l = await lane('coll')));
  after(() => l.close());

  test('replay leaves them; --as-new sends them as new records; then there is nothing left', async () => {
    const [a, b] = quotes(2, 400);
    await sink(l, [at(l, 0, a)]);
    await sink(l, [at(l, 0, b)]);
    assert.equal(await pending(l), 1, 'a collision dead letter');
    assert.match(await cli(l, 'dead-letters', 'replay', '--all'), /left 1 collision/);
    assert.equal(await endOf(l), 0, 'a plain replay sends no collision');
    await cli(l, 'dead-letters', 'replay', '--all', '--as-new');
    await emulate(l);
    assert.equal(await pending(l), 0);
    assert.deepEqual(await l.sb.counts(), { rows: 2, docs: 2, deadLetters: 1 });
    assert.match(await cli(l, 'dead-letters', 'replay', '--all'), /nothing to replay/);
    await emulate(l);
    assert.deepEqual(await l.sb.counts(), { rows: 2, docs: 2, deadLetters: 1 });
  });
});

describe('finding 11: one replay marks every cluster’s dead letters', () => {
  let l: Lane;
  before(async () => (l = await lane('two')));
  after(() => l.close());

  test('dead letters of one topic from two clusters are all marked by one replay --all', async () => {
    await sink(l, [at(l, 0, '{"bad"'), at(l, 1, '{"bad"')], '10.0.0.1:9092');
    await sink(l, [at(l, 0, '{"bad"'), at(l, 1, '{"bad"')], '10.0.0.2:9092');
    assert.equal(await pending(l), 4);
    await cli(l, 'dead-letters', 'replay', '--all');
    assert.equal(await pending(l), 0);
    assert.equal(await endOf(l), 4, 'each sent once');
    assert.match(await cli(l, 'dead-letters', 'replay', '--all'), /nothing to replay/);
  });
});

describe('finding 12: a tombstone supersedes its key’s dead letters', () => {
  let l: Lane;
  before(async () => (l = await lane('tomb')));
  after(() => l.close());

  test('a dead letter older than an applied tombstone of its key is never replayed back', async () => {
    await sink(l, [at(l, 0, '{"bad"', 'gone'), at(l, 1, '{"bad"', 'kept')]);
    // Fixed in the table, as a user would before a replay.
    await l.sb.query(`update ${l.sb.tables.deadLetters} set value_base64 = $1`, [b64(quotes(1, 500)[0])]);
    await sink(l, [at(l, 2, null, 'gone')], '127.0.0.1:9092', { tombstones: 'delete' });
    await cli(l, 'dead-letters', 'replay', '--all');
    await emulate(l);
    const rows = await l.sb.query<{ kafka_key: string }>(`select kafka_key from ${l.sb.tables.records}`);
    assert.deepEqual(rows, [{ kafka_key: 'kept' }], 'the deleted key does not come back');
  });
});

describe('finding 12: a redrive of a record older than its key’s tombstone', () => {
  let l: Lane;
  before(async () => (l = await lane('tomb2')));
  after(() => l.close());

  test('is superseded: not stored, counted', async () => {
    const [q] = quotes(1, 600);
    const s = await sink(l, [at(l, 5, null, 'gone')], '127.0.0.1:9092', { tombstones: 'delete' });
    assert.equal(s.tombstones.received, 1);
    // A failure of offset 1 (before the tombstone), redriven now.
    const failed = buildEvent('self-managed', '127.0.0.1:9092', [toEventRecord(at(l, 1, q, 'gone'))]);
    const resender = { key: l.sb.config.SINK_IDENTITY_KEY as string };
    const producer = createKafka(l.sb.config, 'tomb2-test').producer();
    await producer.connect();
    for (const [topic, messages] of redriveMessages(failed, resender)) await producer.send({ topic, messages });
    await producer.disconnect();
    const out = await emulate(l);
    assert.deepEqual(await l.sb.counts(), { rows: 0, docs: 0, deadLetters: 0 }, out);
  });
});

describe('finding 20: header names are replayed as they were', () => {
  let l: Lane;
  before(async () => (l = await lane('names')));
  after(() => l.close());

  test('a header literally named base64:… reaches Kafka under that name', async () => {
    await sink(l, [at(l, 0, '{"bad"', 'k', { 'base64:aGk=': 'v', plain: 'w' })]);
    await cli(l, 'dead-letters', 'replay', '--all');
    const [m] = await readAll(l, l.topic);
    assert.equal(m.headers['base64:aGk='], 'v');
    assert.equal(m.headers.hi, undefined);
    assert.equal(m.headers.plain, 'w');
  });
});
