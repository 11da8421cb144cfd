/**
 * The emulator while the source topic changes under it (issue 19): a partition added under LATEST,
 * the topic deleted and created again. Asserted on what lands in the stores and what is committed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Partitioners, type Message } from 'kafkajs';
import { createKafka } from '../../tools/kafka';
import { sleep } from '../../tools/stack/proc';
import { ConfigResourceTypes } from 'kafkajs';
import {
  committedOffsets,
  lane,
  readTopic,
  runEmulator,
  startEmulator,
  until,
  type Lane,
  type RunningEmulator,
} from '../helpers/lane';

/** Sends `messages` to the lane's topic with a plain producer (partitions chosen by the test). */
async function send(l: Lane, messages: Message[]): Promise<void> {
  const producer = createKafka(l.sb.config, 'emulator-topics-test').producer({
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  try {
    await producer.send({ topic: l.topic, messages });
  } finally {
    await producer.disconnect();
  }
}

const quote = (tag: string, i: number) => JSON.stringify({ quote: `${tag} quote ${i}`, character: 'Homer Simpson' });
const toPartition = (partition: number, tag: string, n: number): Message[] =>
  Array.from({ length: n }, (_, i) => ({ partition, key: null, value: quote(tag, i) }));

/** Stops a running emulator with SIGTERM; its exit code (143 when it stopped as asked). */
async function stop(e: RunningEmulator): Promise<number | null | string> {
  e.signal('SIGTERM');
  const code = await Promise.race([e.exit, sleep(15_000).then(() => 'still running')]);
  e.signal('SIGKILL');
  return code;
}

describe('a partition added while running under LATEST', () => {
  let l: Lane;
  before(async () => (l = await lane('latestadd')));
  after(() => l.close());

  test("its records are read from the partition's beginning, not from where kafkajs first saw its end", async () => {
    await send(l, toPartition(0, 'before', 5)); // before the mapping: LATEST skips them
    const emulator = startEmulator(l, ['--no-template', '--starting-position', 'LATEST']);
    try {
      await until('the new group placed', async () => Object.values(await committedOffsets(l)).every((o) => o >= 0));
      await send(l, toPartition(0, 'after', 10));
      await until('the records produced after the start', async () => (await l.sb.counts()).rows === 10, 60_000);
      await l.admin.createPartitions({ topicPartitions: [{ topic: l.topic, count: 4 }] });
      // At once, before kafkajs's next metadata refresh notices partition 3.
      await send(l, toPartition(3, 'added', 10));
      await until("the added partition's records", async () => (await l.sb.counts()).rows === 20, 30_000).catch(
        (e: Error) => assert.fail(`${e.message}\n${emulator.output()}`),
      );
    } finally {
      assert.equal(await stop(emulator), 143, emulator.output());
    }
    assert.deepEqual(await l.sb.counts(), { rows: 20, docs: 20, deadLetters: 0 });
    assert.deepEqual(await committedOffsets(l), { 0: 15, 1: 0, 2: 0, 3: 10 });
  });
});

describe('a topic deleted and created again while the emulator runs', () => {
  let l: Lane;
  before(async () => (l = await lane('recreatedrun')));
  after(() => l.close());

  test('the new topic is read from its beginning even when its end reaches the old position', async () => {
    await send(
      l,
      [0, 1, 2].flatMap((p) => toPartition(p, `old-${p}`, 10)),
    );
    const emulator = startEmulator(l, ['--no-template'], { LOG_LEVEL: 'info' });
    try {
      await until('the old topic read', async () => (await l.sb.counts()).rows === 30, 60_000);
      await until('its offsets committed', async () => Object.values(await committedOffsets(l)).every((o) => o === 10));
      await l.admin.deleteTopics({ topics: [l.topic] });
      await until('the topic to be gone', async () => !(await l.admin.listTopics()).includes(l.topic), 30_000);
      await l.admin.createTopics({
        waitForLeaders: true,
        topics: [{ topic: l.topic, numPartitions: 3, replicationFactor: 1 }],
      });
      // Exactly as many records as the old position: the new end equals the old committed offset.
      await send(
        l,
        [0, 1, 2].flatMap((p) => toPartition(p, `new-${p}`, 10)),
      );
      // The new records have the old ones' coordinates: the sink keeps the stored ones and
      // dead-letters the new ones as collisions. All 30 must get there.
      await until('the new topic read', async () => (await l.sb.counts()).deadLetters === 30, 45_000).catch(
        (e: Error) => assert.fail(`${e.message}\n${emulator.output()}`),
      );
    } finally {
      assert.equal(await stop(emulator), 143, emulator.output());
    }
    assert.deepEqual(await l.sb.counts(), { rows: 30, docs: 30, deadLetters: 30 });
    const [dl] = await l.sb.query<{ collisions: number; fresh: number }>(
      `select count(*) filter (where error_kind = 'collision')::int as collisions,
              count(*) filter (where convert_from(decode(value_base64, 'base64'), 'UTF8') like '%new-%')::int as fresh
         from ${l.sb.tables.deadLetters}`,
    );
    assert.deepEqual(dl, { collisions: 30, fresh: 30 }, 'the dead letters are the new topic records');
    assert.deepEqual(await committedOffsets(l), { 0: 10, 1: 10, 2: 10 });
    assert.match(emulator.output(), /was re-created/);
  });
});

/** Postgres unreachable for the whole run: every invocation fails at once. */
const OUTAGE = { POSTGRES_URL: 'postgres://u:p@127.0.0.1:1/none', POSTGRES_CONNECT_TIMEOUT_MS: '300' };
const KAFKA_DEFAULT = '1048588';

/** The values of the first `n` messages of `topic`, read from its beginning. */
const readValues = async (l: Lane, topic: string, n: number): Promise<string[]> =>
  (await readTopic(l, topic, n)).map(({ message }) => String(message.value));

async function maxMessageBytes(l: Lane, topic: string): Promise<string | undefined> {
  const { resources } = await l.admin.describeConfigs({
    includeSynonyms: false,
    resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['max.message.bytes'] }],
  });
  return resources[0].configEntries.find((c) => c.configName === 'max.message.bytes')?.configValue;
}

describe("an 800 KB record, at Kafka's default max.message.bytes, that fails every retry", () => {
  let l: Lane;
  const value = JSON.stringify({ quote: 'D'.repeat(800 * 1024), character: 'Homer Simpson' });
  const args = (dest: string) => [
    '--until-idle',
    '--no-template',
    '--no-store-check',
    '--max-attempts',
    '2',
    '--backoff-cap-ms',
    '20',
    '--destination',
    `kafka://${dest}`,
  ];
  before(async () => {
    l = await lane('bigfail', [{ name: 'max.message.bytes', value: KAFKA_DEFAULT }]);
    await send(l, [{ partition: 0, key: 'big', value }]);
  });
  after(async () => {
    await l.admin.deleteTopics({ topics: [`${l.topic}-small`, `${l.topic}-made`] }).catch(() => undefined);
    await l.close();
  });

  test('a destination topic at the same default: the emulator ends with one line naming the setting it needs', async () => {
    const dest = `${l.topic}-small`;
    await l.admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic: dest, numPartitions: 1, configEntries: [{ name: 'max.message.bytes', value: KAFKA_DEFAULT }] }],
    });
    const r = await runEmulator(l, args(dest), OUTAGE);
    assert.equal(r.code, 1, r.output);
    const lines = r.output.split('\n').filter((x) => x.startsWith('local: '));
    assert.equal(lines.length, 1, r.output);
    assert.match(
      lines[0],
      new RegExp(
        `^local: destination topic ${dest} cannot take record ${l.topic}/0/0: its invocation record needs \\d+ bytes, the topic's max\\.message\\.bytes is ${KAFKA_DEFAULT}; set the topic's max\\.message\\.bytes to at least \\d+$`,
      ),
    );
    assert.doesNotMatch(r.output, /\n\s+at /, 'no stack trace');
    assert.equal(Number((await l.admin.fetchTopicOffsets(dest))[0].high), 0, 'nothing in the destination');
    assert.equal((await committedOffsets(l))[0], -1, 'the partition did not move past the record');
  });

  test('a destination topic the emulator creates fits it: the record lands there, and the partition moves on', async () => {
    const dest = `${l.topic}-made`;
    const r = await runEmulator(l, args(dest), { ...OUTAGE, LOG_LEVEL: 'info' });
    assert.equal(r.code, 0, r.output.slice(-3_000));
    assert.match(r.output, new RegExp(`created destination topic ${dest} with max\\.message\\.bytes 1402216`));
    assert.equal(await maxMessageBytes(l, dest), '1402216');
    const [doc] = (await readValues(l, dest, 1)).map((v) => JSON.parse(v));
    assert.equal(doc.requestContext.condition, 'RetryAttemptsExhausted');
    const [rec] = Object.values(doc.payload.records as Record<string, { offset: number; value: string }[]>).flat();
    assert.equal(rec.offset, 0);
    assert.equal(Buffer.from(rec.value, 'base64').toString(), value, 'the record itself, byte for byte');
    assert.equal((await committedOffsets(l))[0], 1, 'the partition moved on');
    assert.equal((await l.sb.counts()).rows, 0);
  });
});
