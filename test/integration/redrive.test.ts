/**
 * Issue 11's "done when": an outage longer than the retry window loses nothing. The records end in
 * the on-failure destination and the partitions move on; once the store is back, `npm run redrive`
 * brings them through the sink, each stored once (even redriven twice).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Message } from 'kafkajs';
import { PROJECT_ROOT } from '../../lib/config';
import { IDENTITY_HEADER } from '../../lib/event/coordinates';
import { kafkaFailureRecord } from '../../lib/emulator/destination';
import type { KafkaEventRecord } from '../../lib/event/types';
import { createKafka } from '../../lib/kafka';
import { uniqueName } from '../helpers/env';
import { committedOffsets, lane, produce, runEmulator, until, type Lane } from '../helpers/lane';
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
async function readAll(
  l: Lane,
  topic: string,
): Promise<{ partition: number; offset: string; headers: Message['headers'] }[]> {
  const ends = await l.admin.fetchTopicOffsets(topic);
  const total = ends.reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
  const out: { partition: number; offset: string; headers: Message['headers'] }[] = [];
  if (total === 0) return out;
  const consumer = createKafka(l.sb.config, 'redrive-test-reader').consumer({
    groupId: uniqueName('reader'),
    maxWaitTimeInMs: 200,
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) =>
        void out.push({ partition, offset: message.offset, headers: message.headers }),
    });
    await until(`all ${total} messages of ${topic}`, () => out.length >= total, 30_000);
  } finally {
    await consumer.disconnect();
  }
  return out;
}

/** Failed records of the lane's topic, as the emulator's Kafka destination holds them: one invocation record each. */
function failureMessages(l: Lane, n: number): Message[] {
  return quotes(n).map((value, i) => {
    const r: KafkaEventRecord = {
      topic: l.topic,
      partition: i % 3,
      offset: Math.floor(i / 3),
      timestamp: 1_700_000_000_000 + i,
      timestampType: 'CREATE_TIME',
      key: null,
      value: Buffer.from(value).toString('base64'),
      headers: [],
    };
    const doc = kafkaFailureRecord(
      r,
      { records: [r], condition: 'RetryAttemptsExhausted', invokeCount: 2 },
      { source: 'self-managed', bootstrapServers: l.sb.config.KAFKA_BROKERS },
    );
    return { partition: i % 3, value: JSON.stringify(doc) };
  });
}

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
    const producer = createKafka(l.sb.config, 'redrive-test').producer();
    await producer.connect();
    await producer.send({ topic: failed, acks: -1, messages: failureMessages(l, M) });
    await producer.disconnect();
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
