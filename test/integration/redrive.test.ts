/**
 * Issue 11's "done when": an outage longer than the retry window loses nothing. The records end in
 * the on-failure destination and the partitions move on; once the store is back, `npm run redrive`
 * brings them through the sink, each stored once (even redriven twice).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Message } from 'kafkajs';
import { PROJECT_ROOT } from '../../lib/config';
import { IDENTITY_HEADER } from '../../lib/event/coordinates';
import { kafkaFailureRecord, s3InvocationRecord } from '../../tools/emulator/destination';
import type { KafkaEventRecord } from '../../lib/event/types';
import { createKafka } from '../../tools/kafka';
import { uniqueName } from '../helpers/env';
import { committedOffsets, lane, produce, readTopic, runEmulator, until, type Lane } from '../helpers/lane';
import { dropOrders, order, ordersSinkFileIn } from '../helpers/orders';
import { runCommand, TSX } from '../helpers/run';
import { quotes } from '../helpers/sink';

const N = 300;
/** Postgres unreachable for the whole run: every invocation fails at once. */
const OUTAGE = { POSTGRES_URL: 'postgres://u:p@127.0.0.1:1/none', POSTGRES_CONNECT_TIMEOUT_MS: '300' };
const FAST_FAILURE = ['--until-idle', '--max-attempts', '2', '--backoff-cap-ms', '20', '--batch-size', '100'];

async function endOffsets(l: Lane, topic: string): Promise<number> {
  return (await l.admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high), 0);
}

async function redrive(l: Lane, args: string[]): Promise<string> {
  const r = await runCommand(TSX, ['cli/redrive.ts', ...args], l.env, 120_000);
  assert.equal(r.code, 0, `redrive failed:\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

describe('an outage longer than the retry window, then a redrive', () => {
  let l: Lane;
  let failed: string;
  const tmp = mkdtempSync(path.join(tmpdir(), 'quotes-sink-redrive-'));
  before(async () => {
    l = await lane('redrive');
    failed = `${l.topic}-failed`;
    await l.admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic: failed, numPartitions: 1, replicationFactor: 1 }],
    });
  });
  after(async () => {
    await l.admin.deleteTopics({ topics: [failed] }).catch(() => undefined);
    await l.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  test('Kafka destination: records kept, partitions moved on; redrive brings each through once, twice is harmless', async () => {
    await produce(l, ['--synthetic', String(N), '--seed', '5']);
    const down = await runEmulator(
      l,
      [...FAST_FAILURE, '--no-store-check', '--destination', `kafka://${failed}`],
      OUTAGE,
    );
    assert.equal(down.code, 0, down.output);
    assert.match(down.output, new RegExp(`${N} sent to the destination`));
    assert.equal(await endOffsets(l, failed), N, 'one destination message per failed record');
    const committed = await committedOffsets(l);
    assert.equal(
      Object.values(committed).reduce((a, b) => a + b, 0),
      N,
      'the partitions moved on',
    );
    assert.equal((await l.sb.counts()).rows, 0, 'nothing in Postgres during the outage (Mongo may hold some)');

    assert.match(
      await redrive(l, ['--from', `kafka://${failed}`]),
      new RegExp(`redriven ${N} records from ${N} messages`),
    );
    assert.match(await redrive(l, ['--from', `kafka://${failed}`]), /redriven 0 records/, 'committed as it went');
    const up = await runEmulator(l, ['--until-idle']);
    assert.equal(up.code, 0, up.output);
    assert.deepEqual(await l.sb.counts(), { rows: N, docs: N, deadLetters: 0 });

    // Redriven a second time on purpose (a new group reads it all again): still stored once.
    await redrive(l, ['--from', `kafka://${failed}`, '--group', uniqueName('again')]);
    const again = await runEmulator(l, ['--until-idle']);
    assert.equal(again.code, 0, again.output);
    assert.match(again.output, new RegExp(`${N} records, 0 written, ${N} already there`));
    assert.deepEqual(await l.sb.counts(), { rows: N, docs: N, deadLetters: 0 });
  });

  test('S3 destination (a folder): one invocation record per failed batch; redrive moves them aside', async () => {
    const dir = path.join(tmp, 's3');
    const l2 = l;
    const before = await l2.sb.counts();
    await produce(l2, ['--synthetic', '150', '--seed', '77']);
    const down = await runEmulator(l2, [...FAST_FAILURE, '--no-store-check', '--s3-destination', dir], OUTAGE);
    assert.equal(down.code, 0, down.output);
    const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
    assert.ok(files.length >= 2, `one file per failed batch: ${files.join(', ')}`);
    assert.match(await redrive(l2, ['--from-dir', dir]), /redriven 150 records/);
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.endsWith('.json')),
      [],
    );
    assert.equal(readdirSync(path.join(dir, 'redriven')).length, files.length);
    assert.match(await redrive(l2, ['--from-dir', dir]), /redriven 0 records from 0 files/);
    const up = await runEmulator(l2, ['--until-idle']);
    assert.equal(up.code, 0, up.output);
    const after = await l2.sb.counts();
    assert.equal(after.rows - before.rows, 150, up.output);
    assert.equal(after.docs - before.docs, 150);
  });
});

/** `cli/redrive.ts` in a process group of its own (node itself, not the tsx CLI), output captured. */
function startRedrive(l: Lane, args: string[]) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/redrive.ts', ...args], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...l.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    exit,
    output: () => ({ stdout, stderr }),
    kill() {
      if (child.exitCode === null && child.signalCode === null) process.kill(-(child.pid as number), 'SIGKILL');
    },
  };
}

/** Resolves with `p`, or with 'timeout' after `ms`. */
const within = <T>(p: Promise<T>, ms: number) =>
  Promise.race([p, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms).unref())]);

/** Every message of `topic` (up to its current ends), read by a throwaway group. */
const readAll = async (l: Lane, topic: string) =>
  (await readTopic(l, topic)).map(({ partition, message }) => ({
    partition,
    offset: message.offset,
    headers: message.headers,
  }));

/** A failed record of the lane's topic (the i-th, over 3 partitions). */
function failedRecord(l: Lane, i: number, value: string): KafkaEventRecord {
  return {
    topic: l.topic,
    partition: i % 3,
    offset: Math.floor(i / 3),
    timestamp: 1_700_000_000_000 + i,
    timestampType: 'CREATE_TIME',
    key: null,
    value: Buffer.from(value).toString('base64'),
    headers: [],
  };
}

const FAILED = { condition: 'RetryAttemptsExhausted', invokeCount: 2 } as const;
const context = (l: Lane) => ({ source: 'self-managed', bootstrapServers: l.sb.config.KAFKA_BROKERS }) as const;

/** Failed records of the lane's topic, as the emulator's Kafka destination holds them: one invocation record each. */
function failureMessages(l: Lane, n: number, start = 0): Message[] {
  return quotes(n, start).map((value, k) => {
    const r = failedRecord(l, start + k, value);
    const doc = kafkaFailureRecord(r, { records: [r], ...FAILED }, context(l));
    return { partition: (start + k) % 3, value: JSON.stringify(doc) };
  });
}

/** Produces `messages` to `topic` (all to partition 0 unless they say otherwise). */
async function put(l: Lane, topic: string, messages: Message[]): Promise<void> {
  const producer = createKafka(l.sb.config, 'redrive-test').producer();
  await producer.connect();
  try {
    await producer.send({ topic, acks: -1, messages });
  } finally {
    await producer.disconnect();
  }
}

/** The committed offset per partition of `groupId` on `topic`. */
async function groupAt(l: Lane, groupId: string, topic: string): Promise<Record<number, number>> {
  const [t] = await l.admin.fetchOffsets({ groupId, topics: [topic] });
  return Object.fromEntries(t.partitions.map((p) => [p.partition, Number(p.offset)]));
}

const NO_STACK = /^ {4}at /m;

describe('two redrives of one Kafka destination at once', () => {
  const M = 1_500;
  let l: Lane;
  let failed: string;
  before(async () => {
    l = await lane('redrive2');
    failed = `${l.topic}-failed`;
    await l.admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic: failed, numPartitions: 3, replicationFactor: 1 }],
    });
    await put(l, failed, failureMessages(l, M));
  });
  after(async () => {
    await l.admin.deleteTopics({ topics: [failed] }).catch(() => undefined);
    await l.close();
  });

  test('both exit promptly; every destination message reaches the source topic (at least once), the group is at the ends; stored once', async (t) => {
    const group = uniqueName('redrive');
    const args = ['--from', `kafka://${failed}`, '--group', group];
    const a = startRedrive(l, args);
    const b = { current: undefined as ReturnType<typeof startRedrive> | undefined };
    try {
      // The second starts once the first is under way: it joins the group mid-run, a rebalance.
      await until(
        'the first redrive to commit',
        async () => {
          const [t] = await l.admin.fetchOffsets({ groupId: group, topics: [failed] });
          return t.partitions.some((p) => Number(p.offset) > 0);
        },
        60_000,
      );
      b.current = startRedrive(l, args);
      const [codeA, codeB] = await Promise.all([within(a.exit, 60_000), within(b.current.exit, 60_000)]);
      const out = `A: ${JSON.stringify(a.output())}\nB: ${JSON.stringify(b.current.output())}`;
      assert.equal(codeA, 0, out);
      assert.equal(codeB, 0, out);
      t.diagnostic(`A: ${a.output().stdout.trim()}; B: ${b.current.output().stdout.trim()}`);

      const [committed] = await l.admin.fetchOffsets({ groupId: group, topics: [failed] });
      const ends = await l.admin.fetchTopicOffsets(failed);
      assert.deepEqual(
        Object.fromEntries(committed.partitions.map((p) => [p.partition, Number(p.offset)])),
        Object.fromEntries(ends.map((p) => [p.partition, Number(p.high)])),
        'the group committed the ends',
      );
      const sent = await readAll(l, l.topic);
      const identities = new Set(sent.map((m) => String(m.headers?.[IDENTITY_HEADER])));
      assert.equal(identities.size, M, 'every destination message was sent');
      assert.ok(sent.length >= M);
      // At least once, not twice over: only what was in flight when the group rebalanced is sent again.
      assert.ok(sent.length - M <= 10, `${sent.length - M} sent twice`);
    } finally {
      a.kill();
      b.current?.kill();
    }
    const up = await runEmulator(l, ['--until-idle']);
    assert.equal(up.code, 0, up.output);
    assert.deepEqual(await l.sb.counts(), { rows: M, docs: M, deadLetters: 0 });
  });
});

describe('what is not an invocation record in the destination', () => {
  let l: Lane;
  const tmp = mkdtempSync(path.join(tmpdir(), 'quotes-sink-redrive-foreign-'));
  before(async () => {
    // Small enough that a record of 4 kB is refused by the broker: a send that fails, not one that waits.
    l = await lane('redrive3', [{ name: 'max.message.bytes', value: '2048' }]);
  });
  after(async () => {
    await l.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  const redriveOnce = (args: string[]) => runCommand(TSX, ['cli/redrive.ts', ...args], l.env, 60_000);
  const onePartition = async (name: string) => {
    const topic = `${l.topic}-${name}`;
    await l.admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1, replicationFactor: 1 }] });
    return topic;
  };
  const toZero = (ms: Message[]) => ms.map((m) => ({ ...m, partition: 0 }));

  test('Kafka: foreign messages are skipped and reported, what follows is redriven, the group reaches the end', async () => {
    const failed = await onePartition('foreign');
    const foreign: Message[] = [
      { value: 'not json at all' },
      { value: '{"hello":"world"}' },
      { value: JSON.stringify({ payload: { records: { x: [{ partition: 0, offset: 1 }] } } }) },
      { value: null },
    ];
    await put(l, failed, toZero([...failureMessages(l, 3), ...foreign, ...failureMessages(l, 3, 3)]));
    const group = uniqueName('redrive');
    const r = await redriveOnce(['--from', `kafka://${failed}`, '--group', group]);
    assert.equal(r.code, 3, `exit 3: all valid sent, some skipped\n${r.stdout}${r.stderr}`);
    assert.doesNotMatch(r.stderr, NO_STACK);
    for (const [offset, why] of [
      [3, 'not JSON'],
      [4, 'no payload'],
      [5, 'a record has no topic'],
      [6, 'no value'],
    ])
      assert.match(r.stdout, new RegExp(`^skipped ${failed}/0/${offset}: .*\\(${why}\\)`, 'm'));
    assert.match(r.stdout, /redriven 6 records from 6 messages of .*; skipped 4 /);
    const sent = await readAll(l, l.topic);
    assert.equal(sent.length, 6, 'the valid ones, each once');
    assert.equal(new Set(sent.map((m) => String(m.headers?.[IDENTITY_HEADER]))).size, 6);
    assert.deepEqual(await groupAt(l, group, failed), { 0: 10 }, 'committed past the foreign ones, to the end');

    const again = await redriveOnce(['--from', `kafka://${failed}`, '--group', group]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /redriven 0 records/);
    assert.equal((await readAll(l, l.topic)).length, 6);
  });

  test('Kafka: a send that fails keeps what was sent before it committed; the rerun sends only the rest', async () => {
    const failed = await onePartition('refused');
    const big = failedRecord(l, 3, JSON.stringify({ quote: 'x'.repeat(4_000), character: 'Homer' }));
    const refused = { value: JSON.stringify(kafkaFailureRecord(big, { records: [big], ...FAILED }, context(l))) };
    await put(l, failed, toZero([...failureMessages(l, 3, 100), refused, ...failureMessages(l, 2, 200)]));
    const before = (await readAll(l, l.topic)).length;
    const group = uniqueName('redrive');
    const r = await redriveOnce(['--from', `kafka://${failed}`, '--group', group]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.doesNotMatch(r.stderr, NO_STACK);
    assert.match(r.stderr, new RegExp(`${failed}/0/3 failed`));
    assert.deepEqual(await groupAt(l, group, failed), { 0: 3 }, 'committed up to the failed message');
    assert.equal((await readAll(l, l.topic)).length - before, 3);

    await l.admin.alterConfigs({
      validateOnly: false,
      resources: [{ type: 2, name: l.topic, configEntries: [{ name: 'max.message.bytes', value: '1048588' }] }],
    });
    const rerun = await redriveOnce(['--from', `kafka://${failed}`, '--group', group]);
    assert.equal(rerun.code, 0, rerun.stdout + rerun.stderr);
    assert.match(rerun.stdout, /redriven 3 records from 3 messages/);
    assert.equal((await readAll(l, l.topic)).length - before, 6, 'nothing sent twice');
    assert.deepEqual(await groupAt(l, group, failed), { 0: 6 });
  });

  test('folder: a foreign file is reported and left in place, the others are redriven and moved', async () => {
    const dir = path.join(tmp, 's3');
    mkdirSync(dir);
    const records = quotes(4, 300).map((v, k) => failedRecord(l, 300 + k, v));
    writeFileSync(path.join(dir, 'a.json'), JSON.stringify(s3InvocationRecord({ records, ...FAILED }, context(l))));
    writeFileSync(path.join(dir, 'b.json'), '{"not":"an invocation record"');
    writeFileSync(path.join(dir, 'c.json'), JSON.stringify({ payload: { records: [] } }));
    const before = (await readAll(l, l.topic)).length;
    const r = await redriveOnce(['--from-dir', dir]);
    assert.equal(r.code, 3, r.stdout + r.stderr);
    assert.doesNotMatch(r.stderr, NO_STACK);
    assert.match(r.stdout, /^skipped .*b\.json: .*\(not JSON\), left in place$/m);
    assert.match(r.stdout, /^skipped .*c\.json: .*\(no payload\.records\), left in place$/m);
    assert.match(r.stdout, /redriven 4 records from 1 files .*; skipped 2 /);
    assert.deepEqual(readdirSync(dir).sort(), ['b.json', 'c.json', 'redriven']);
    assert.deepEqual(readdirSync(path.join(dir, 'redriven')), ['a.json']);
    assert.equal((await readAll(l, l.topic)).length - before, 4);
  });
});

describe('redrive of a second route (the example orders route)', () => {
  let l: Lane;
  let name: string;
  let failed: string;
  let env: Record<string, string>;
  const tmp = mkdtempSync(path.join(tmpdir(), 'quotes-sink-redrive-orders-'));
  before(async () => {
    l = await lane('rdorders');
    name = uniqueName('orders').toLowerCase();
    failed = `${name}-failed`;
    env = { ...l.env, SINK_FILE: ordersSinkFileIn(tmp, name) };
    await l.admin.createTopics({
      waitForLeaders: true,
      topics: [
        { topic: name, numPartitions: 3, replicationFactor: 1 },
        { topic: failed, numPartitions: 1, replicationFactor: 1 },
      ],
    });
  });
  after(async () => {
    await l.admin.deleteTopics({ topics: [failed] }).catch(() => undefined);
    await dropOrders(l, name);
    await l.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  test("the orders' invocation records go back to the orders topic, and land in the route's table once", async () => {
    const n = 12;
    const messages = Array.from({ length: n }, (_, i) => {
      const r = { ...failedRecord(l, i, order(i)), topic: name };
      return { value: JSON.stringify(kafkaFailureRecord(r, { records: [r], ...FAILED }, context(l))) };
    });
    await put(l, failed, messages);
    const r = await runCommand(TSX, ['cli/redrive.ts', '--from', `kafka://${failed}`], env, 120_000);
    assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
    assert.match(r.stdout, new RegExp(`redriven ${n} records`));
    assert.equal(await endOffsets(l, name), n, 'each record sent back to its own topic');
    assert.equal(await endOffsets(l, l.topic), 0, 'none to the quotes topic');
    const up = await runEmulator(l, ['--until-idle', '--no-template'], { SINK_FILE: env.SINK_FILE });
    assert.equal(up.code, 0, up.output);
    const [rows] = await l.sb.query<{ n: number; ids: number }>(
      `select count(*)::int as n, count(distinct id)::int as ids from "${name}"`,
    );
    assert.deepEqual(rows, { n, ids: n });
  });
});
