/**
 * The local pipeline end to end on the real stack: producer CLI → Kafka → emulator CLI → sink →
 * Postgres + Mongo. Each test has its own topic, consumer group, tables and collection.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Partitioners, type Message } from 'kafkajs';
import { createKafka } from '../../tools/kafka';
import { freePort, sleep } from '../../tools/stack/proc';
import { uniqueName } from '../helpers/env';
import { committedOffsets, emulate, jsonLines, lane, produce, startEmulator, until, type Lane } from '../helpers/lane';
import { runCommand, SERVERLESS, spawnCommand, startCommand, stopCommand, TSX } from '../helpers/run';
import { fixture as loadFixture, quote } from '../helpers/factories';

const tmp = mkdtempSync(path.join(tmpdir(), 'quotes-sink-pipeline-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('end to end', () => {
  let l: Lane;
  before(async () => (l = await lane('e2e')));
  after(() => l.close());

  test('2,000 synthetic records with 5% invalid: 1,900 rows, 1,900 documents, 100 dead letters; a second run changes nothing', async () => {
    assert.match(
      await produce(l, ['--synthetic', '2000', '--invalid-ratio', '0.05', '--seed', '7']),
      /produced 2000 records .*1900 valid, 100 invalid/,
    );
    assert.match(await emulate(l), /2000 records, 1900 written/);
    assert.deepEqual(await l.sb.counts(), { rows: 1900, docs: 1900, deadLetters: 100 });
    const kinds = await l.sb.query<{ error_kind: string; n: number }>(
      `select error_kind, count(*)::int n from "${l.env.POSTGRES_DEAD_LETTER_TABLE}" group by 1 order by 1`,
    );
    assert.deepEqual(kinds, [
      { error_kind: 'json', n: 25 },
      { error_kind: 'schema', n: 75 },
    ]);

    assert.match(await emulate(l), /done: 0 records/);
    assert.deepEqual(await l.sb.counts(), { rows: 1900, docs: 1900, deadLetters: 100 });
  });
});

describe('crash safety', () => {
  let l: Lane;
  before(async () => (l = await lane('crash')));
  after(() => l.close());

  test('SIGKILL mid-run, then a restart until idle: every record exactly once in both stores', async () => {
    await produce(l, ['--synthetic', '20000', '--seed', '11']);
    const child = spawnCommand(TSX, ['cli/local.ts', '--batch-size', '100'], l.env);
    // Kill it as soon as the stores show it is under way.
    const deadline = Date.now() + 60_000;
    let rows = 0;
    while (Date.now() < deadline && rows < 1000) {
      await sleep(20);
      rows = (await l.sb.counts()).rows;
    }
    await stopCommand(child, 'SIGKILL');
    assert.ok(rows >= 1000, 'the emulator wrote records before the kill');
    const mid = await l.sb.counts();
    assert.ok(mid.rows < 20000 || mid.docs < 20000, `killed mid-run (had ${mid.rows} rows, ${mid.docs} documents)`);

    await emulate(l);
    assert.deepEqual(await l.sb.counts(), { rows: 20000, docs: 20000, deadLetters: 0 });
    const [{ n }] = await l.sb.query<{ n: number }>(
      `select count(distinct (partition, "offset"))::int n from "${l.env.POSTGRES_QUOTES_TABLE}"`,
    );
    assert.equal(n, 20000);
  });
});

describe('--invoke offline', () => {
  let l: Lane;
  before(async () => (l = await lane('offline')));
  after(() => l.close());

  test('the emulator drives the function through serverless offline: same counts', async () => {
    await produce(l, ['--synthetic', '1000', '--invalid-ratio', '0.05', '--seed', '3']);
    const lambdaPort = await freePort(3102);
    const httpPort = await freePort(3100, [lambdaPort]);
    const offline = await startCommand(
      SERVERLESS,
      ['offline', 'start', '--lambdaPort', String(lambdaPort), '--httpPort', String(httpPort)],
      l.env,
      /listening on http:\/\/127\.0\.0\.1:\d+/i,
    );
    try {
      await emulate(l, ['--invoke', 'offline', '--endpoint', `http://127.0.0.1:${lambdaPort}`, '--source', 'msk']);
    } finally {
      await stopCommand(offline.child);
    }
    assert.deepEqual(await l.sb.counts(), { rows: 950, docs: 950, deadLetters: 50 });
  });
});

describe('event shape', () => {
  let l: Lane;
  before(async () => (l = await lane('shape')));
  after(() => l.close());

  test("the emulator's events (as the recorder writes them) match the AWS fixtures field by field", async () => {
    const kafka = createKafka(l.sb.config, 'shape-test');
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    await producer.send({
      topic: l.topic,
      messages: [
        {
          partition: 0,
          key: 'Homer Simpson',
          value: JSON.stringify({ quote: "D'oh!", character: 'Homer Simpson' }),
          headers: { source: 'test', bin: Buffer.from([0xde, 0xad, 0x80, 0xff]) },
        },
        { partition: 1, key: null, value: JSON.stringify({ quote: 'Eat my shorts', character: 'Bart Simpson' }) },
        { partition: 2, key: 'Moe', value: null },
      ],
    });
    await producer.disconnect();

    for (const [source, fixtureName] of [
      ['msk', 'msk-event.json'],
      ['self-managed', 'self-managed-event.json'],
    ] as const) {
      const out = path.join(tmp, `${source}.json`);
      const r = await runCommand(TSX, ['cli/record.ts', '--out', out, '--source', source, '--batch-size', '3'], l.env);
      assert.equal(r.code, 0, r.stderr);
      const recorded = JSON.parse(readFileSync(out, 'utf8'));
      const fixture = loadFixture(fixtureName);
      assert.deepEqual(Object.keys(recorded).sort(), Object.keys(fixture).sort(), `${source}: top-level fields`);
      for (const k of Object.keys(fixture))
        assert.equal(typeof recorded[k], typeof fixture[k], `${source}: type of ${k}`);
      assert.equal(typeof recorded.bootstrapServers, 'string');

      const recs = Object.values(recorded.records as Record<string, Record<string, unknown>[]>).flat();
      assert.equal(recs.length, 3);
      const fx = Object.values(fixture.records as Record<string, Record<string, unknown>[]>).flat();
      const withKey = fx.find((x) => typeof x.key === 'string') as Record<string, unknown>;
      for (const rec of recs) {
        for (const field of ['topic', 'partition', 'offset', 'timestamp', 'timestampType', 'headers']) {
          assert.equal(typeof rec[field], typeof withKey[field], `${source}: type of ${field}`);
        }
        assert.match(String(rec.timestampType), /^(CREATE_TIME|LOG_APPEND_TIME)$/);
        assert.equal(Object.keys(recorded.records).includes(`${rec.topic}-${rec.partition}`), true);
      }
      const homer = recs.find((x) => x.partition === 0) as { key: string; headers: Record<string, number[]>[] };
      assert.equal(Buffer.from(homer.key, 'base64').toString(), 'Homer Simpson');
      assert.deepEqual(
        homer.headers,
        [{ source: [...Buffer.from('test')] }, { bin: [-34, -83, -128, -1] }],
        'header values as signed bytes',
      );
      const bart = recs.find((x) => x.partition === 1) as Record<string, unknown>;
      assert.equal('key' in bart, false, 'a record with no key has no key field');
      const moe = recs.find((x) => x.partition === 2) as Record<string, unknown>;
      assert.equal(moe.value, null, 'a tombstone has value null');
    }
  });
});

/** Sends `messages` to the lane's topic with a plain producer (partitions chosen by the test). */
async function send(l: Lane, messages: Message[]): Promise<void> {
  const producer = createKafka(l.sb.config, 'pipeline-test').producer({
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  try {
    await producer.send({ topic: l.topic, messages });
  } finally {
    await producer.disconnect();
  }
}

const toPartition = (partition: number, from: number, n: number): Message[] =>
  Array.from({ length: n }, (_, i) => ({ partition, key: null, value: quote(from + i) }));

describe('a partition added while running', () => {
  let l: Lane;
  before(async () => (l = await lane('addpart')));
  after(() => l.close());

  test('its records are consumed within seconds, and --until-idle then exits', async () => {
    await send(l, [...toPartition(0, 0, 10), ...toPartition(1, 10, 10), ...toPartition(2, 20, 10)]);
    const emulator = startEmulator(l, ['--until-idle', '--idle-ms', '8000']);
    try {
      await until('the first 30 records', async () => (await l.sb.counts()).rows === 30);
      await l.admin.createPartitions({ topicPartitions: [{ topic: l.topic, count: 4 }] });
      await send(l, toPartition(3, 30, 10));
      // kafkajs's default metadata age (5 minutes) kept partition 3 unread, and --until-idle waiting.
      await until("the new partition's records", async () => (await l.sb.counts()).rows === 40, 20_000);
      assert.equal(
        await Promise.race([emulator.exit, sleep(30_000).then(() => 'still running')]),
        0,
        emulator.output(),
      );
    } finally {
      emulator.signal('SIGKILL');
    }
    assert.deepEqual(await l.sb.counts(), { rows: 40, docs: 40, deadLetters: 0 });
  });
});

describe('signals during a store outage', () => {
  let l: Lane;
  let closedPort: number;
  before(async () => {
    l = await lane('sigstop');
    await send(l, toPartition(0, 0, 5));
    closedPort = await freePort(39_000);
  });
  after(() => l.close());

  for (const [signal, code] of [
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const) {
    test(`${signal} while retrying: stops within 5 s, commits nothing, exits ${code}`, async () => {
      const down = `postgres://mchi:mchi1234@127.0.0.1:${closedPort}/simpsons`;
      const group = uniqueName('g'); // not the group of the other case's killed emulator
      const env = { POSTGRES_URL: down, POSTGRES_CONNECT_TIMEOUT_MS: '300', KAFKA_GROUP_ID: group };
      const emulator = startEmulator(l, ['--no-store-check'], env);
      try {
        await until('a failed invocation', () => jsonLines(emulator.output()).some((j) => j.attempt === 2), 60_000);
        const signalled = Date.now();
        emulator.signal(signal);
        const exit = await Promise.race([emulator.exit, sleep(5_000).then(() => 'still running after 5 s')]);
        assert.equal(exit, code, emulator.output());
        assert.ok(Date.now() - signalled <= 5_000);
      } finally {
        emulator.signal('SIGKILL');
      }
      assert.deepEqual(Object.values(await committedOffsets(l, group)), [-1, -1, -1], 'nothing committed');
      assert.equal((await l.sb.counts()).rows, 0, 'Postgres was down throughout (Mongo may hold the records)');
    });
  }
});

describe('records deleted by retention before they were consumed', () => {
  let l: Lane;
  before(async () => (l = await lane('retention')));
  after(() => l.close());

  test('the gap is logged with its offsets, and consumption resumes at the earliest record left', async () => {
    await send(l, toPartition(0, 0, 20));
    await emulate(l);
    await send(l, toPartition(0, 20, 30));
    await l.admin.fetchTopicOffsets(l.topic); // kafkajs finds the partition leaders only once it has the topic's metadata
    await l.admin.deleteTopicRecords({ topic: l.topic, partitions: [{ partition: 0, offset: '35' }] });

    const r = await runCommand(TSX, ['cli/local.ts', '--until-idle'], l.env, 120_000);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const gaps = jsonLines(r.stdout).flatMap((j) => (j.retentionGap ? [j.retentionGap] : []));
    assert.deepEqual(gaps, [{ topic: l.topic, partition: 0, from: 20, to: 35, offsets: 15 }]);
    assert.deepEqual(await l.sb.counts(), { rows: 35, docs: 35, deadLetters: 0 });
    assert.equal((await committedOffsets(l))[0], 50);
  });
});

describe('a record above the invoke payload limit', () => {
  let l: Lane;
  before(async () => (l = await lane('oversize', [{ name: 'max.message.bytes', value: String(10 * 1024 * 1024) }])));
  after(() => l.close());

  test('is never invoked: the emulator exits 1 naming it, and its partition is not committed past it', async () => {
    const big = JSON.stringify({ quote: 'D'.repeat(5 * 1024 * 1024), character: 'Homer Simpson' });
    await send(l, [
      { partition: 0, key: null, value: quote(0) },
      { partition: 0, key: null, value: big },
    ]);
    const r = await runCommand(TSX, ['cli/local.ts', '--until-idle'], l.env, 120_000);
    assert.equal(r.code, 1, r.stdout + r.stderr.slice(0, 2_000));
    assert.match(r.stderr, new RegExp(`record ${l.topic}/0/1 makes an event of \\d+ bytes`));
    const { rows } = await l.sb.counts();
    assert.ok(rows <= 1, 'the large record was not written');
    assert.ok((await committedOffsets(l))[0] <= 1, 'not committed past the large record');
  });
});

describe('a LogAppendTime topic', () => {
  let l: Lane;
  before(async () => (l = await lane('logappend', [{ name: 'message.timestamp.type', value: 'LogAppendTime' }])));
  after(() => l.close());

  test("its records are labelled LOG_APPEND_TIME, with the broker's time", async () => {
    const before = Date.now();
    await send(l, [{ partition: 0, key: null, value: quote(0), timestamp: '1000' }]);
    const out = path.join(tmp, 'log-append.json');
    const r = await runCommand(TSX, ['cli/record.ts', '--out', out, '--batch-size', '1'], l.env);
    assert.equal(r.code, 0, r.stderr);
    const [rec] = Object.values(
      JSON.parse(readFileSync(out, 'utf8')).records as Record<string, { timestampType: string; timestamp: number }[]>,
    ).flat();
    assert.equal(rec.timestampType, 'LOG_APPEND_TIME');
    assert.ok(rec.timestamp >= before - 60_000, 'the broker stamped the time, not the producer');
  });
});
