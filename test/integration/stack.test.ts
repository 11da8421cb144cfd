/** Smoke tests of the stack over real connections: the services npm test brought up really serve. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { MongoClient } from 'mongodb';
import pg from 'pg';
import { brokerList, parseEnvFile } from '../../lib/config';
import { status } from '../../lib/stack/stack';
import { stackConfig, uniqueName } from '../helpers/env';
import { TSX, runCommand } from '../helpers/run';

const cfg = stackConfig();
const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

test('stack status reports every service up', async () => {
  const lines = await status();
  assert.equal(lines.length, 3);
  for (const l of lines) assert.match(l, / up( |$)/, l);
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

test('external mode: reachable KAFKA_BROKERS/POSTGRES_URL/MONGO_URL are used as given, and nothing is started or stopped', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'quotes-sink-external-'));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  // This run's services, handed over as if they were the user's own.
  const env = { QUOTES_SINK_STACK_DIR: dir, KAFKA_BROKERS: cfg.KAFKA_BROKERS, POSTGRES_URL: cfg.POSTGRES_URL, MONGO_URL: cfg.MONGO_URL };

  const up = await runCommand(TSX, ['cli/stack.ts', 'up'], env, 60_000);
  assert.equal(up.code, 0, up.stderr);
  assert.match(up.stderr, /external services from the environment/);
  assert.equal(readFileSync(path.join(dir, 'mode'), 'utf8'), 'external');
  const written = parseEnvFile(readFileSync(path.join(dir, 'env'), 'utf8'));
  assert.deepEqual([written.STACK_MODE, written.KAFKA_BROKERS, written.POSTGRES_URL, written.MONGO_URL], ['external', cfg.KAFKA_BROKERS, cfg.POSTGRES_URL, cfg.MONGO_URL]);
  assert.deepEqual(readdirSync(dir).sort(), ['env', 'mode'], 'no data, logs or pid files: nothing was started');

  const st = await runCommand(TSX, ['cli/stack.ts', 'status'], env, 60_000);
  assert.equal(st.code, 0, st.stdout + st.stderr);
  assert.equal(st.stdout.trim().split('\n').filter((l) => / external .* up$/.test(l)).length, 3, st.stdout);

  const down = await runCommand(TSX, ['cli/stack.ts', 'down'], env, 60_000);
  assert.equal(down.code, 0, down.stderr);
  assert.doesNotMatch(down.stderr, /stopped/);
  // The services it was given still serve.
  const lines = await status();
  for (const l of lines) assert.match(l, / up( |$)/, l);
});
