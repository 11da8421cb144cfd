/** Smoke tests of the stack over real connections: the services npm test brought up really serve. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { MongoClient } from 'mongodb';
import pg from 'pg';
import { brokerList, parseEnvFile } from '../../lib/config';
import { freePort } from '../../tools/stack/proc';
import { currentMode, status, type ServiceState } from '../../tools/stack/stack';
import { stackConfig, uniqueName } from '../helpers/env';
import { stackCli } from '../helpers/run';

const cfg = stackConfig();
const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

test('stack status reports every service up', async () => {
  const states = await status();
  assert.equal(states.length, 3);
  for (const s of states) assert.ok(s.up, JSON.stringify(s));
});

test('kafka: the quotes topic has 3 partitions, and a record produced is consumed back', async () => {
  const kafka = new Kafka({ clientId: 'smoke', brokers: brokerList(cfg.KAFKA_BROKERS), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  cleanups.push(() => admin.disconnect());
  const md = await admin.fetchTopicMetadata({ topics: [cfg.KAFKA_TOPIC] });
  assert.equal(md.topics[0].partitions.length, 3);

  const topic = uniqueName('smoke');
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1, replicationFactor: 1 }] });
  cleanups.push(() => admin.deleteTopics({ topics: [topic] }));

  const producer = kafka.producer();
  await producer.connect();
  const marker = randomUUID();
  await producer.send({ topic, acks: -1, messages: [{ key: 'Homer', value: JSON.stringify({ quote: marker }) }] });
  await producer.disconnect();

  const consumer = kafka.consumer({ groupId: uniqueName('smoke-group') });
  await consumer.connect();
  cleanups.push(() => consumer.disconnect());
  await consumer.subscribe({ topic, fromBeginning: true });
  const got = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('kafka: no record consumed within 30s')), 30_000);
    void consumer.run({
      eachMessage: async ({ message }) => {
        clearTimeout(timer);
        resolve(message.value?.toString() ?? '');
      },
    });
  });
  assert.equal(JSON.parse(got).quote, marker);
});

test('postgres: a row inserted is read back', async () => {
  const client = new pg.Client({ connectionString: cfg.POSTGRES_URL });
  await client.connect();
  cleanups.push(() => client.end());
  const table = uniqueName('smoke');
  await client.query(`create temp table ${table} (id int primary key, quote text)`);
  await client.query(`insert into ${table} values ($1, $2)`, [1, "D'oh!"]);
  const r = await client.query(`select quote from ${table} where id = 1`);
  assert.equal(r.rows[0].quote, "D'oh!");
  const db = await client.query('select current_database() as db');
  assert.equal(db.rows[0].db, 'simpsons');
});

test('mongo: a document inserted is read back', async () => {
  const client = await MongoClient.connect(cfg.MONGO_URL, { serverSelectionTimeoutMS: 5_000 });
  cleanups.push(() => client.close());
  const col = client.db(cfg.MONGO_DATABASE).collection(uniqueName('smoke'));
  cleanups.push(() => col.drop());
  const id = randomUUID();
  await col.insertOne({ _id: id as never, quote: 'Why you little!', character: 'Homer Simpson' });
  const doc = await col.findOne({ _id: id as never });
  assert.equal(doc?.character, 'Homer Simpson');
});

/** What `stack status --json` reports in stack folder `dir`. */
async function statusIn(
  dir: string,
  env: Record<string, string> = {},
): Promise<{ code: number | null; states: ServiceState[] }> {
  const r = await stackCli(['status', '--json'], { QUOTES_SINK_STACK_DIR: dir, ...env });
  return { code: r.code, states: JSON.parse(r.stdout) as ServiceState[] };
}

function tempStackDir(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// This run's own settings may be in this process's environment (loaded from .stack/env): blank them.
const NOTHING_SET = { KAFKA_BROKERS: '', POSTGRES_URL: '', MONGO_URL: '' };

test('external mode: reachable KAFKA_BROKERS/POSTGRES_URL/MONGO_URL are used as given, kept, and nothing is started or stopped', async () => {
  const dir = tempStackDir('quotes-sink-external-');
  // This run's services, handed over as if they were the user's own.
  const env = { KAFKA_BROKERS: cfg.KAFKA_BROKERS, POSTGRES_URL: cfg.POSTGRES_URL, MONGO_URL: cfg.MONGO_URL };

  const up = await stackCli(['up'], { QUOTES_SINK_STACK_DIR: dir, ...env });
  assert.equal(up.code, 0, up.stderr);
  assert.equal(readFileSync(path.join(dir, 'mode'), 'utf8'), 'external');
  const written = parseEnvFile(readFileSync(path.join(dir, 'env'), 'utf8'));
  assert.deepEqual(
    [written.STACK_MODE, written.KAFKA_BROKERS, written.POSTGRES_URL, written.MONGO_URL],
    ['external', cfg.KAFKA_BROKERS, cfg.POSTGRES_URL, cfg.MONGO_URL],
  );
  assert.deepEqual(readdirSync(dir).sort(), ['env', 'mode'], 'no data, logs or pid files: nothing was started');

  // The next up, with nothing set in its shell, keeps these services.
  const again = await stackCli(['up'], { QUOTES_SINK_STACK_DIR: dir, ...NOTHING_SET });
  assert.equal(again.code, 0, again.stderr);
  assert.equal(parseEnvFile(readFileSync(path.join(dir, 'env'), 'utf8')).POSTGRES_URL, cfg.POSTGRES_URL);
  assert.deepEqual(readdirSync(dir).sort(), ['env', 'mode'], 'still nothing started');

  const st = await statusIn(dir, env);
  assert.equal(st.code, 0, JSON.stringify(st.states));
  assert.deepEqual(
    st.states.map((s) => [s.name, s.mode, s.up]),
    [
      ['kafka', 'external', true],
      ['postgres', 'external', true],
      ['mongo', 'external', true],
    ],
  );

  const down = await stackCli(['down'], { QUOTES_SINK_STACK_DIR: dir, ...env });
  assert.equal(down.code, 0, down.stderr);
  assert.doesNotMatch(down.stderr, /stopped/);
  // The services it was given still serve.
  for (const s of await status()) assert.ok(s.up, JSON.stringify(s));
});

test('external mode: a kept .stack/env whose services do not answer fails in one line naming them, and starts nothing', async () => {
  const dir = tempStackDir('quotes-sink-external-gone-');
  const closed = await freePort(39_000);
  const kept = `KAFKA_BROKERS=${cfg.KAFKA_BROKERS}\nPOSTGRES_URL=postgres://mchi:hidden@127.0.0.1:${closed}/simpsons\nMONGO_URL=${cfg.MONGO_URL}\n`;
  writeFileSync(path.join(dir, 'env'), kept);
  writeFileSync(path.join(dir, 'mode'), 'external');

  const up = await stackCli(['up'], { QUOTES_SINK_STACK_DIR: dir, ...NOTHING_SET });
  assert.equal(up.code, 1, up.stderr);
  const lines = up.stderr.trim().split('\n');
  assert.equal(lines.length, 1, up.stderr);
  assert.match(
    lines[0],
    new RegExp(`postgres \\(postgres://mchi:\\*\\*\\*@127\\.0\\.0\\.1:${closed}/simpsons\\) does not answer`),
  );
  assert.doesNotMatch(up.stderr, /kafka|mongo \(/, 'only the service that does not answer is named');
  assert.deepEqual(readdirSync(dir).sort(), ['env', 'mode'], 'no second stack was started');
});

test('status in a second checkout: services serving at the addresses are up, with no pid (not started by it)', async (t) => {
  const mine = await status();
  if (currentMode() === 'external' || currentMode() === 'docker' || mine.some((s) => !s.pid)) {
    t.skip("needs this checkout's own native stack");
    return;
  }
  const dir = tempStackDir('quotes-sink-second-');
  // Another checkout that knows the ports (the defaults, or port files like these) but started nothing.
  for (const [name, sub] of [
    ['postgres', 'pg'],
    ['kafka', 'kafka'],
    ['ferretdb', 'ferretdb'],
  ]) {
    const port = mine.find((s) => s.name === name)?.address.split(':')[1] ?? '';
    mkdirSync(path.join(dir, sub), { recursive: true });
    writeFileSync(path.join(dir, sub, 'port'), port);
  }
  const st = await statusIn(dir, NOTHING_SET);
  assert.equal(st.code, 0, JSON.stringify(st.states));
  assert.deepEqual(
    st.states.map((s) => [s.name, s.address, s.up, s.pid]),
    mine.map((s) => [s.name, s.address, true, undefined]),
  );
});
