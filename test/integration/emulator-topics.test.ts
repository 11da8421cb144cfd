/**
 * The emulator while the source topic changes under it (issue 19): a partition added under LATEST,
 * the topic deleted and created again. Asserted on what lands in the stores and what is committed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Partitioners, type Message } from 'kafkajs';
import { createKafka } from '../../lib/kafka';
import { sleep } from '../../lib/stack/proc';
import { committedOffsets, lane, startEmulator, until, type Lane, type RunningEmulator } from '../helpers/lane';

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
