/**
 * `npm run bench [-- --quick | --records N]`: the sink against the naive consumer and against the
 * databases' own bulk-load limits, on the same rows, in one run. Every headline figure is a ratio
 * to a baseline measured in this run (these machines are shared and noisy).
 * Writes bench/results/<timestamp>.json and bench/results/latest.json.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { MongoClient, type Document } from 'mongodb';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { dropStores, syntheticRecords } from './common';
import { PROJECT_ROOT, loadConfig, loadStackEnv, type Config } from '../lib/config';
import { buildEvent } from '../lib/event/build';
import type { KafkaEvent, KafkaEventRecord } from '../lib/event/types';
import { createKafka } from '../lib/kafka';
import { publish, syntheticMessages } from '../lib/producer/publish';
import { quoteType } from '../lib/records/quote';
import type { RecordType } from '../lib/records/record-type';
import { processBatch } from '../lib/sink/batch';
import { decodeRecord } from '../lib/event/decode';
import { validateRecord } from '../lib/records/validate';
import { documentId, toDocument, toRow } from '../lib/sink/model';
import { MongoStore } from '../lib/sink/mongo';
import { PostgresStore } from '../lib/sink/postgres';
import { currentMode, up } from '../lib/stack/stack';

const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, records: { type: 'string' }, 'naive-records': { type: 'string' } } });
const N = Number(values.records ?? (values.quick ? 2_000 : 100_000));
/** The naive loop is slow by design; it is timed on the first records only, as a rate. */
const NAIVE_N = Math.min(N, Number(values['naive-records'] ?? (values.quick ? 500 : 10_000)));
const RUN = `bench_${Date.now().toString(36)}`;
const type = quoteType as RecordType<unknown>;

const rate = (n: number, ms: number) => Math.round((n * 1000) / ms);
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] * 10) / 10;
};
const log = (m: string) => process.stderr.write(`[bench] ${m}\n`);

/** The same N records for every contender, as Kafka would hand them over. */
const makeRecords = () => syntheticRecords(N, 2024, (i) => ({ partition: i % 3, offset: Math.floor(i / 3) }));

const eventsOf = (records: KafkaEventRecord[], size: number): KafkaEvent[] => {
  const out: KafkaEvent[] = [];
  for (let i = 0; i < records.length; i += size) out.push(buildEvent('self-managed', '127.0.0.1:9092', records.slice(i, i + size)));
  return out;
};

interface Lane {
  config: Config;
  postgres: PostgresStore;
  mongo: MongoStore;
}
const lanes: Lane[] = [];
/** Fresh tables and collection of identical schema and indexes, for one contender. */
async function lane(name: string): Promise<Lane> {
  const config = loadConfig({ ...process.env, POSTGRES_QUOTES_TABLE: `${RUN}_${name}`, POSTGRES_DEAD_LETTER_TABLE: `${RUN}_${name}_dl`, MONGO_COLLECTION: `${RUN}_${name}` });
  const l = { config, postgres: new PostgresStore(config, type), mongo: new MongoStore(config) };
  await l.postgres.ensureSchema();
  await l.mongo.ensureIndexes();
  lanes.push(l);
  return l;
}

/** The tutorial's consumer: per record, one INSERT and one insertOne, one after the other. */
async function naive(records: KafkaEventRecord[]): Promise<number> {
  const l = await lane('naive');
  const client = new pg.Client({ connectionString: l.config.POSTGRES_URL });
  await client.connect();
  const mongo = await MongoClient.connect(l.config.MONGO_URL);
  const col = mongo.db(l.config.MONGO_DATABASE).collection(l.config.MONGO_COLLECTION);
  const t0 = performance.now();
  for (const r of records) {
    const q = JSON.parse(Buffer.from(r.value as string, 'base64').toString('utf8'));
    await client.query(
      `insert into "${l.config.POSTGRES_QUOTES_TABLE}" (topic, partition, "offset", kafka_key, quote, "character", image, character_direction, payload, headers, kafka_timestamp, timestamp_type) values ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)`,
      [r.topic, r.partition, r.offset, null, q.quote, q.character, q.image, q.characterDirection, q, '[]', new Date(r.timestamp), r.timestampType],
    );
    await col.insertOne({ _id: `${r.topic}-${r.partition}-${r.offset}` as never, ...q });
  }
  const ms = performance.now() - t0;
  await client.end();
  await mongo.close();
  return rate(records.length, ms);
}

/** The very rows and documents the sink writes (its own mapping), built once, outside the timings. */
function rowsAndDocs(records: KafkaEventRecord[]) {
  const rows: string[] = [];
  const docs: Document[] = [];
  const csv = (v: unknown) => (v === null || v === undefined ? '' : `"${(typeof v === 'object' ? JSON.stringify(v) : String(v)).replace(/"/g, '""')}"`);
  const at = new Date();
  for (const r of records) {
    const d = decodeRecord(r);
    if (d.kind !== 'value') throw new Error('bench records are all valid');
    const v = validateRecord(type, d.value, d.meta.coordinates);
    if (!v.ok) throw v.error;
    const good = { meta: d.meta, payload: d.value, value: v.value };
    const row = toRow(type, good);
    rows.push(`${COPY_COLUMNS.map((c) => csv(row[c])).join(',')}\n`);
    docs.push({ _id: documentId(d.meta), ...toDocument(type, good, at) });
  }
  return { rows, docs };
}

const COPY_COLUMNS = ['topic', 'partition', 'offset', 'kafka_key', 'kafka_key_base64', 'quote', 'character', 'image', 'character_direction', 'payload', 'headers', 'kafka_timestamp', 'timestamp_type'];

async function copyLimit(l: Lane, rows: string[]): Promise<number> {
  const client = new pg.Client({ connectionString: l.config.POSTGRES_URL });
  await client.connect();
  const t0 = performance.now();
  const stream = client.query(
    copyFrom(`copy "${l.config.POSTGRES_QUOTES_TABLE}" (${COPY_COLUMNS.map((c) => `"${c}"`).join(', ')}) from stdin with (format csv)`),
  );
  await pipeline(Readable.from(rows), stream);
  const ms = performance.now() - t0;
  await client.end();
  return ms;
}

async function insertManyLimit(l: Lane, docs: Document[]): Promise<number> {
  const mongo = await MongoClient.connect(l.config.MONGO_URL);
  const t0 = performance.now();
  await mongo.db(l.config.MONGO_DATABASE).collection(l.config.MONGO_COLLECTION).insertMany(docs.map((d) => ({ ...d })), { ordered: false });
  const ms = performance.now() - t0;
  await mongo.close();
  return ms;
}

interface HandlerRun {
  batchSize: number;
  recordsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  splitMs: { decode: number; postgres: number; mongo: number };
  peakRssMb: number;
  baselineRssMb: number;
  eventMb: number;
}

/** The handler's body (processBatch with the real stores), one event after another. */
async function handlerRun(l: Lane, events: KafkaEvent[], batchSize: number): Promise<HandlerRun> {
  global.gc?.();
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
  const lat: number[] = [];
  const split = { decode: 0, postgres: 0, mongo: 0 };
  let n = 0;
  const t0 = performance.now();
  for (const ev of events) {
    const t = performance.now();
    const s = await processBatch(ev, type, l, { tombstones: 'skip' });
    lat.push(performance.now() - t);
    split.decode += s.durationMs.decode;
    split.postgres += s.durationMs.postgres;
    split.mongo += s.durationMs.mongo;
    n += s.received;
  }
  const ms = performance.now() - t0;
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage().rss);
  return {
    batchSize,
    recordsPerSec: rate(n, ms),
    p50Ms: pct(lat, 50),
    p99Ms: pct(lat, 99),
    splitMs: { decode: Math.round(split.decode), postgres: Math.round(split.postgres), mongo: Math.round(split.mongo) },
    peakRssMb: Math.round(peak / 1048576),
    baselineRssMb: Math.round(baseline / 1048576),
    eventMb: Math.round((JSON.stringify(events[0]).length / 1048576) * 100) / 100,
  };
}

/** Kafka's own limit here: a raw kafkajs read of the whole topic. */
async function rawRead(config: Config, topic: string, n: number): Promise<number> {
  const kafka = createKafka(config, 'bench-raw');
  const consumer = kafka.consumer({ groupId: `${RUN}_raw`, maxBytesPerPartition: 8 * 1024 * 1024, maxBytes: 32 * 1024 * 1024, maxWaitTimeInMs: 200 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let seen = 0;
  const t0 = performance.now();
  await new Promise<void>((resolve) => {
    void consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: 3,
      eachBatch: async ({ batch }) => {
        seen += batch.messages.length;
        if (seen >= n) resolve();
      },
    });
  });
  const ms = performance.now() - t0;
  await consumer.disconnect();
  return rate(n, ms);
}

interface MemoryRun {
  batchSize: number;
  eventMb: number;
  baselineRssMb: number;
  peakRssMb: number;
  maxDeltaMb: number;
}

/**
 * The handler's memory at one batch size, each probe in a fresh process (bench/memory.ts): the main
 * process holds every contender's data, so its RSS says little about the handler's own.
 */
async function memoryProbe(batchSize: number): Promise<MemoryRun> {
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', 'bench/memory.ts', '--batch', String(batchSize)], { cwd: PROJECT_ROOT, env: { ...process.env, LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('close', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`memory probe exited ${code}: ${stderr}`))));
  });
  return JSON.parse(out.trim().split('\n').pop() as string) as MemoryRun;
}

/** `npm run local -- --until-idle` from start to idle, as a child process. */
function emulatorRun(env: Record<string, string>, batchSize: number): Promise<{ ms: number; out: string }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(path.join(PROJECT_ROOT, 'node_modules', '.bin', 'tsx'), ['cli/local.ts', '--until-idle', '--idle-ms', '300', '--batch-size', String(batchSize)], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, ...env, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let out = '';
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.once('close', (code) => (code === 0 ? resolve({ ms: performance.now() - t0, out }) : reject(new Error(`emulator exited ${code}: ${out}`))));
  });
}

async function main(): Promise<void> {
  const { mode } = await up(log);
  loadStackEnv();
  const config = loadConfig();
  log(`${N} records (naive loop on ${NAIVE_N}), stack ${mode}`);
  const records = makeRecords();
  const { rows, docs } = rowsAndDocs(records);

  log('naive baseline');
  const naiveRps = await naive(records.slice(0, NAIVE_N));

  log('database limits: COPY, insertMany, both at once');
  const copyMs = await copyLimit(await lane('copy'), rows);
  const insertManyMs = await insertManyLimit(await lane('insertmany'), docs);
  const both = await lane('both');
  const t0 = performance.now();
  await Promise.all([copyLimit(both, rows), insertManyLimit(both, docs)]);
  const bothMs = performance.now() - t0;

  const handler: HandlerRun[] = [];
  let replay: HandlerRun | undefined;
  for (const size of [100, 1_000, 10_000].filter((s) => s <= N)) {
    log(`handler at batch ${size}`);
    const l = await lane(`h${size}`);
    const events = eventsOf(records, size);
    handler.push(await handlerRun(l, events, size));
    if (size === 1_000 || (N < 1_000 && size === 100)) {
      log('replay (everything already present)');
      replay = await handlerRun(l, events, size);
    }
  }

  const memBatch = Math.min(10_000, N);
  log(`handler memory at batch ${memBatch}: 3 fresh processes`);
  const probes: MemoryRun[] = [];
  for (let i = 0; i < 3; i++) probes.push(await memoryProbe(memBatch));
  probes.sort((a, b) => a.maxDeltaMb - b.maxDeltaMb);
  const mem = probes[1];

  log('end to end: emulator from start to idle, and a raw kafkajs read');
  const e2eTopic = `${RUN}_e2e`;
  const kafka = createKafka(config, 'bench');
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic: e2eTopic, numPartitions: 3, replicationFactor: 1 }] });
  await publish(kafka, e2eTopic, syntheticMessages(N, 2024, 0, { key: true, source: 'bench' }));
  const rawRps = await rawRead(config, e2eTopic, N);
  const e2eLane = await lane('e2e');
  const emuBatch = Math.min(1_000, N);
  const e2e = await emulatorRun({ KAFKA_TOPIC: e2eTopic, KAFKA_GROUP_ID: `${RUN}_emu`, POSTGRES_QUOTES_TABLE: e2eLane.config.POSTGRES_QUOTES_TABLE, POSTGRES_DEAD_LETTER_TABLE: e2eLane.config.POSTGRES_DEAD_LETTER_TABLE, MONGO_COLLECTION: e2eLane.config.MONGO_COLLECTION }, emuBatch);
  const e2eRps = rate(N, e2e.ms);
  await admin.deleteTopics({ topics: [e2eTopic] }).catch(() => undefined);
  await admin.disconnect();

  const h1000 = handler.find((h) => h.batchSize === emuBatch) ?? handler[handler.length - 1];
  const first = replay ? handler.find((h) => h.batchSize === replay.batchSize) : undefined;
  const limits = { copyRps: rate(N, copyMs), insertManyRps: rate(N, insertManyMs), combinedRps: rate(N, bothMs) };
  const ratios = {
    handler_vs_limit: Math.round((h1000.recordsPerSec / limits.combinedRps) * 100) / 100,
    handler_vs_naive: Math.round((h1000.recordsPerSec / naiveRps) * 10) / 10,
    e2e_vs_handler: Math.round((e2eRps / h1000.recordsPerSec) * 100) / 100,
    replay_vs_first: replay && first ? Math.round((replay.recordsPerSec / first.recordsPerSec) * 100) / 100 : null,
  };
  const h10k = handler.find((h) => h.batchSize === 10_000);
  const result = {
    date: new Date().toISOString(),
    quick: values.quick,
    records: N,
    naiveRecords: NAIVE_N,
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memoryGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, stack: currentMode() ?? mode, mongoServer: mode === 'native' ? 'FerretDB 1.24 (SQLite)' : 'MongoDB' },
    naive: { recordsPerSec: naiveRps },
    limits,
    handler,
    replay,
    endToEnd: { recordsPerSec: e2eRps, emulatorBatchSize: emuBatch, rawKafkaReadRps: rawRps },
    memory: {
      batchSize: memBatch,
      eventMb: mem.eventMb,
      baselineRssMb: mem.baselineRssMb,
      peakRssMb: mem.peakRssMb,
      growthMb: mem.maxDeltaMb,
      growthPerEventSize: Math.round((mem.maxDeltaMb / mem.eventMb) * 10) / 10,
      budgetMb: Math.round((3 * mem.eventMb + mem.baselineRssMb) * 10) / 10,
      withinBudget: mem.maxDeltaMb <= 3 * mem.eventMb,
      probesGrowthMb: probes.map((p) => p.maxDeltaMb),
      inBenchProcessPeakRssMb: h10k?.peakRssMb ?? null,
    },
    ratios,
    targets: { handler_vs_limit: 0.7, handler_vs_naive: 20, e2e_vs_handler: 0.8, replay_vs_first: 1 },
  };

  // Clean up the run's tables and collections.
  await dropStores(lanes.map((l) => l.config));
  await Promise.all(lanes.flatMap((l) => [l.postgres.close(), l.mongo.close()]));

  const dir = path.join(PROJECT_ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const json = `${JSON.stringify(result, null, 2)}\n`;
  writeFileSync(path.join(dir, `${result.date.replace(/[:.]/g, '-')}.json`), json);
  writeFileSync(path.join(dir, values.quick ? 'latest-quick.json' : 'latest.json'), json);

  const line = (a: string, b: string | number) => console.log(`${a.padEnd(44)} ${String(b)}`);
  console.log(`\nquotes-sink benchmark, ${N} records, ${result.machine.cpus} CPUs, ${result.machine.stack} stack (${result.machine.mongoServer})`);
  line('naive loop (INSERT + insertOne per record)', `${naiveRps} rec/s`);
  line('postgres COPY', `${limits.copyRps} rec/s`);
  line('mongo insertMany', `${limits.insertManyRps} rec/s`);
  line('both at once (combined limit)', `${limits.combinedRps} rec/s`);
  for (const h of handler) line(`handler, batch ${h.batchSize}`, `${h.recordsPerSec} rec/s  p50 ${h.p50Ms} ms  p99 ${h.p99Ms} ms  decode/pg/mongo ${h.splitMs.decode}/${h.splitMs.postgres}/${h.splitMs.mongo} ms  peak RSS ${h.peakRssMb} MB`);
  if (replay) line(`replay, batch ${replay.batchSize}`, `${replay.recordsPerSec} rec/s  decode/pg/mongo ${replay.splitMs.decode}/${replay.splitMs.postgres}/${replay.splitMs.mongo} ms`);
  line('raw kafkajs read', `${rawRps} rec/s`);
  line(`end to end (emulator, batch ${emuBatch})`, `${e2eRps} rec/s`);
  console.log('');
  for (const [k, v] of Object.entries(ratios)) line(`${k} (target ${result.targets[k as keyof typeof result.targets]})`, v ?? '-');
  const m = result.memory;
  line(`handler RSS at batch ${m.batchSize}, own process`, `baseline ${m.baselineRssMb} MB, peak ${m.peakRssMb} MB: +${m.growthMb} MB = ${m.growthPerEventSize}x the ${m.eventMb} MB event (budget 3x; probes ${m.probesGrowthMb.join('/')} MB)`);
}

main().then(
  () => process.exit(0),
  (e: Error) => {
    console.error(`bench failed: ${e.stack ?? e.message}`);
    process.exit(1);
  },
);
