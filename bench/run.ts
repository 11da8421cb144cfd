/**
 * `npm run bench [-- --quick | --records N] [--naive-records N]`: the sink against the naive
 * consumer and against the databases' own bulk-load limits, on the same rows, in one run. Every
 * headline figure is a ratio to a baseline measured in this run (these machines are shared and
 * noisy). Each `measure…` function returns raw figures; bench/report.ts derives the report.
 * Writes bench/results/<timestamp>.json and bench/results/latest.json (latest-quick.json with --quick).
 */
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { MongoClient, type Document } from 'mongodb';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { COLD_START_RUNS, measureColdStart } from './cold-start';
import { createTopic, dropStores, functionNodeOptions, syntheticRecords, watchRss, writeResult } from './common';
import { measureStorage, type StorageSample } from './storage';
import { ordersType, syntheticOrders } from './orders';
import { z } from 'zod';
import {
  EMULATOR_BATCH_SIZE,
  MEMORY_BATCH_SIZE,
  buildReport,
  formatTarget,
  meets,
  handlerBatchSizes,
  printReport,
  referenceBatchSize,
  type Baseline,
  type BenchReport,
  type BenchResults,
  type CpuProbe,
  type HandlerSamples,
  type MachineFacts,
  type MemoryProbe,
  type Target,
  type Timed,
} from './report';
import { defineCommand, intFlag, parseCommand } from '../tools/cli/args';
import { runMain } from '../tools/cli/main';
import { reachable } from '../tools/cli/reachable';
import { PROJECT_ROOT, loadConfig, loadStackEnv, type Config } from '../lib/config';
import { buildEvent } from '../tools/emulator/event';
import type { KafkaEvent, KafkaEventRecord } from '../lib/event/types';
import { createKafka } from '../tools/kafka';
import { spawnCapture } from '../tools/proc/spawn';
import { publish, syntheticMessages } from '../tools/producer/publish';
import type { Quote } from '../lib/records/quote';
import type { RecordType } from '../lib/records/record-type';
import { quotesRoute } from '../lib/routes/default';
import { processBatch, type Stores } from '../lib/sink/batch';
import { toDocument, type GoodRecord } from '../lib/sink/model';
import { recordsTable } from '../lib/postgres/tables';
import { sortRecord } from '../lib/sink/prepare';
import { openStores, type OpenStores } from '../lib/stores';
import { toRow } from '../lib/postgres/table-spec';
import { ident, qualifiedTable } from '../lib/postgres/names';
import { currentMode, up, type Mode } from '../tools/stack/stack';

/** The sink file's quotes route, as the function sinks quotes. */
const quoteType = quotesRoute();

/** What a run measures, from the command line. */
interface BenchOptions {
  quick: boolean;
  records: number;
  /** The naive loop is slow by design; it is timed on the first records only, as a rate. */
  naiveRecords: number;
  /** Prefix of this run's tables, collections, topic and consumer groups. */
  run: string;
}

/**
 * Records the replay writes again. FerretDB looks every duplicate up with a scan of the whole
 * collection, so a full replay costs minutes per 10,000 records on a busy machine; its rate is
 * taken on the first records, against a collection that holds all of them.
 */
const REPLAY_RECORDS = 5_000;

/** One line of a handler run's figures, logged as the run goes (a failed run keeps what it measured). */
const summary = (h: HandlerSamples) =>
  `${Math.round((h.records * 1000) / h.ms)} rec/s, cpu ${((h.cpuMs * 1000) / h.records).toFixed(1)} ms/1k, decode/pg/mongo ${Math.round(h.splitMs.decode)}/${Math.round(h.splitMs.postgres)}/${Math.round(h.splitMs.mongo)} ms`;

/** Memory probes per run (fresh processes); the report shows their median. */
const MEMORY_PROBES = 3;
/** CPU probes per batch size (fresh processes; one with --quick); the report shows their median. */
const CPU_PROBES = 3;
/** Records a CPU probe writes: enough for two batches of the largest size. */
const cpuProbeRecords = (batchSize: number, quick: boolean) =>
  quick ? Math.max(2_000, batchSize) : Math.max(30_000, 2 * batchSize);
/** How often the in-process handler runs sample the RSS. */
const RSS_SAMPLE_MS = 5;
/** Kafka read-ahead of the raw read: the emulator's defaults (README, `--fetch-max-bytes`). */
const RAW_READ_FETCH = { maxBytesPerPartition: 8 * 1024 * 1024, maxBytes: 32 * 1024 * 1024, maxWaitTimeInMs: 200 };
/** The sink's records table; the COPY and the naive INSERT write the columns the sink writes. */
const RECORDS_SPEC = recordsTable(quoteType);
const WRITTEN_COLUMNS = RECORDS_SPEC.columns
  .filter((c) => c.from !== undefined || c.fromSql !== undefined)
  .map((c) => c.name);
/** A record's row as the sink writes it. */
const rowOf = (g: GoodRecord<Quote>): Record<string, unknown> => toRow(RECORDS_SPEC, g);

const log = (m: string) => process.stderr.write(`[bench] ${m}\n`);
const rateOf = (t: Timed) => Math.round((t.records * 1000) / t.ms);

export const BENCH = defineCommand({
  command: 'npm run bench --',
  summary: [
    "The sink against the naive consumer and the databases' own bulk loads, on the same rows, in one",
    'run (BENCHMARKS.md). Brings the stack up first. Writes bench/results/<date>.json and latest.json',
    '(latest-quick.json with --quick) and ends with a verdict on the targets.',
  ].join('\n'),
  flags: {
    quick: { type: 'boolean', help: '2,000 records (naive loop on 500): seconds; what CI runs' },
    records: { type: 'string', value: 'N', help: 'records (default 100,000; 2,000 with --quick)' },
    'naive-records': {
      type: 'string',
      value: 'N',
      help: 'records the naive loop is timed on (default 10,000; 500 with --quick)',
    },
  },
  schema: z
    .object({
      quick: z.boolean().default(false),
      records: intFlag(10, 10_000_000).optional(),
      'naive-records': intFlag(1, 10_000_000).optional(),
    })
    .strict(),
});

function parseOptions(args: string[]): BenchOptions {
  const o = parseCommand(BENCH, args);
  const records = o.records ?? (o.quick ? 2_000 : 100_000);
  return {
    quick: o.quick,
    records,
    naiveRecords: Math.min(records, o['naive-records'] ?? (o.quick ? 500 : 10_000)),
    run: `bench_${Date.now().toString(36)}`,
  };
}

/** A contender's own table and collection, with the sink's schema and indexes, and its stores on them. */
interface Lane {
  config: Config;
  stores: OpenStores<Quote>;
}

/** The record stores a lane writes: both (the default), or one (`SINK_STORES`). */
type LaneStores = 'postgres,mongo' | 'postgres' | 'mongo';

/** The lane's stores, keeping only the record stores `which` names (dead letters stay). */
function only(stores: Stores<Quote>, which: LaneStores): Stores<Quote> {
  const names = which.split(',');
  return { records: stores.records.filter((s) => names.includes(s.name)), deadLetters: stores.deadLetters };
}

/** The lanes of one run: each contender writes into fresh ones; all are dropped at the end. */
class Lanes {
  private readonly opened: Lane[] = [];

  constructor(private readonly run: string) {}

  /** A fresh lane named `<run>_<name>`, its tables and indexes created. */
  async open(
    name: string,
    stores: LaneStores = 'postgres,mongo',
    type: RecordType<unknown> = quoteType as RecordType<unknown>,
  ): Promise<Lane> {
    const table = `${this.run}_${name}`;
    const config = loadConfig({
      ...process.env,
      POSTGRES_QUOTES_TABLE: table,
      POSTGRES_DEAD_LETTER_TABLE: `${table}_dl`,
      MONGO_COLLECTION: table,
      SINK_STORES: stores,
      // FerretDB answers a replayed chunk slowly when the machine is busy: a slow answer is a figure, not a failure.
      MONGO_TIMEOUT_MS: '300000',
    });
    const lane = { config, stores: openStores(config, type) as OpenStores<Quote> };
    this.opened.push(lane);
    await lane.stores.ready();
    return lane;
  }

  /** Drops every lane's tables and collection, and closes their clients. */
  async dispose(): Promise<void> {
    await dropStores(this.opened.map((l) => l.config));
    await Promise.all(this.opened.map((l) => l.stores.close()));
  }
}

/** The same N records for every contender, as Kafka would hand them over, spread over 3 partitions. */
const benchRecords = (n: number) => syntheticRecords(n, 2024, (i) => ({ partition: i % 3, offset: Math.floor(i / 3) }));

/** The records decoded and validated by the sink's own code (outside every timing). */
function goodRecords(records: readonly KafkaEventRecord[]): GoodRecord<Quote>[] {
  return records.map((r) => {
    const s = sortRecord(r, quoteType);
    if (s.kind !== 'record') throw new Error(`bench record ${r.partition}/${r.offset} is not valid (${s.kind})`);
    return s.record;
  });
}

/** Lambda events of `size` records each. */
function eventsOf(records: readonly KafkaEventRecord[], size: number): KafkaEvent[] {
  const out: KafkaEvent[] = [];
  for (let i = 0; i < records.length; i += size) {
    out.push(buildEvent('self-managed', '127.0.0.1:9092', records.slice(i, i + size)));
  }
  return out;
}

/** A SQL parameter or CSV field: jsonb values as JSON (pg would send a JS array as a Postgres array). */
const sqlValue = (v: unknown) => (v !== null && typeof v === 'object' ? JSON.stringify(v) : v);
const csvField = (v: unknown) => (v === null || v === undefined ? '' : `"${String(sqlValue(v)).replace(/"/g, '""')}"`);
const csvLine = (g: GoodRecord<Quote>) => {
  const row = rowOf(g);
  return `${WRITTEN_COLUMNS.map((c) => csvField(row[c])).join(',')}\n`;
};

/** The tutorial's consumer: per record, one INSERT and one insertOne, one after the other. */
async function measureNaive(lanes: Lanes, good: readonly GoodRecord<Quote>[]): Promise<Timed> {
  const { config } = await lanes.open('naive');
  const placeholders = WRITTEN_COLUMNS.map((_, i) => `$${i + 1}`).join(', ');
  const sql = `insert into ${qualifiedTable(config, 'records')} (${WRITTEN_COLUMNS.map(ident).join(', ')}) values (${placeholders})`;
  const client = new pg.Client({ connectionString: config.POSTGRES_URL });
  await client.connect();
  const mongo = await MongoClient.connect(config.MONGO_URL);
  try {
    const col = mongo.db(config.MONGO_DATABASE).collection<Document & { _id: string }>(config.MONGO_COLLECTION);
    const at = new Date();
    const t0 = performance.now();
    for (const g of good) {
      const row = rowOf(g);
      await client.query(
        sql,
        WRITTEN_COLUMNS.map((c) => sqlValue(row[c])),
      );
      await col.insertOne(toDocument(g, at));
    }
    return { records: good.length, ms: performance.now() - t0 };
  } finally {
    await client.end();
    await mongo.close();
  }
}

/**
 * `COPY … FROM STDIN` of CSV lines into the lane's records table; ms from connected to done.
 *
 * The Postgres limit, the baseline `pg_lane_vs_copy` divides by: deliberately not the sink's own
 * writer (lib/postgres/copy.ts), but pg-copy-streams, the node-postgres ecosystem's COPY, on a
 * client of its own, with the lines encoded before timing. A reference the lane does not share:
 * a slower lib writer shows as a lower ratio instead of slowing the baseline with it, and it is
 * the library issue 20 item 5 weighs against the lib's writer.
 */
async function copyRows(lane: Lane, csv: readonly string[]): Promise<number> {
  const client = new pg.Client({ connectionString: lane.config.POSTGRES_URL });
  await client.connect();
  try {
    const columns = WRITTEN_COLUMNS.map(ident).join(', ');
    const t0 = performance.now();
    const stream = client.query(
      copyFrom(`copy ${qualifiedTable(lane.config, 'records')} (${columns}) from stdin with (format csv)`),
    );
    await pipeline(Readable.from(csv), stream);
    return performance.now() - t0;
  } finally {
    await client.end();
  }
}

/** `insertMany(ordered: false)` into the lane's collection; ms from connected to done. */
async function insertDocuments(lane: Lane, docs: readonly Document[]): Promise<number> {
  const mongo = await MongoClient.connect(lane.config.MONGO_URL);
  try {
    const t0 = performance.now();
    // Copies: the combined run sends the same documents again, and the driver may annotate them.
    await mongo
      .db(lane.config.MONGO_DATABASE)
      .collection(lane.config.MONGO_COLLECTION)
      .insertMany(
        docs.map((d) => ({ ...d })),
        { ordered: false },
      );
    return performance.now() - t0;
  } finally {
    await mongo.close();
  }
}

/** The databases' own bulk loads of the very rows and documents the sink writes. */
interface Limits {
  copy(): Promise<Timed>;
  insertMany(): Promise<Timed>;
  /** Both at once (the handler writes both stores concurrently). */
  combined(): Promise<Timed>;
}

function limitsOf(lanes: Lanes, good: readonly GoodRecord<Quote>[]): Limits {
  const csv = good.map(csvLine);
  const at = new Date();
  const docs = good.map((g) => toDocument(g, at));
  const records = good.length;
  return {
    copy: async () => ({ records, ms: await copyRows(await lanes.open('copy'), csv) }),
    insertMany: async () => ({ records, ms: await insertDocuments(await lanes.open('insertmany'), docs) }),
    combined: async () => {
      const both = await lanes.open('both');
      const t0 = performance.now();
      await Promise.all([copyRows(both, csv), insertDocuments(both, docs)]);
      return { records, ms: performance.now() - t0 };
    },
  };
}

/**
 * The handler's body (processBatch with the real stores, or only those `which` names), one event
 * after another. The CPU time is this process's (user + system): the stores run elsewhere.
 */
async function runHandler(
  lane: Lane,
  events: readonly KafkaEvent[],
  batchSize: number,
  which: LaneStores = 'postgres,mongo',
  type: RecordType<unknown> = quoteType as RecordType<unknown>,
): Promise<HandlerSamples> {
  global.gc?.();
  const stores = only(lane.stores, which);
  const rss = watchRss(RSS_SAMPLE_MS);
  const latenciesMs: number[] = [];
  const splitMs = { decode: 0, postgres: 0, mongo: 0 };
  let records = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (const ev of events) {
    const t = performance.now();
    const s = await processBatch(ev, type, stores as Stores<unknown>, { tombstones: 'skip' });
    latenciesMs.push(performance.now() - t);
    splitMs.decode += s.durationMs.decode;
    splitMs.postgres += s.durationMs.stores.postgres ?? 0;
    splitMs.mongo += s.durationMs.stores.mongo ?? 0;
    records += s.received;
  }
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const { baseline, peak } = rss.stop();
  const eventBytes = JSON.stringify(events[0]).length;
  const cpuMs = (cpu.user + cpu.system) / 1000;
  return { batchSize, records, ms, cpuMs, latenciesMs, splitMs, baselineRss: baseline, peakRss: peak, eventBytes };
}

/**
 * Each store's limit, then the handler with that store alone right after it, then both at once
 * and the handler with both (at the reference batch size, with the replay and the bytes each
 * store keeps); then the handler at the other batch sizes. A limit and its lane run back to back,
 * so a busy spell on this shared machine weighs on both.
 */
async function measureLanes(lanes: Lanes, records: readonly KafkaEventRecord[], limitsAt: Limits) {
  const sizes = handlerBatchSizes(records.length);
  const reference = referenceBatchSize(sizes, Math.min(EMULATOR_BATCH_SIZE, records.length));
  const events = eventsOf(records, reference);
  const lane = async (name: string, which: LaneStores) => {
    log(`handler, ${which} only, batch ${reference}`);
    const run = await runHandler(await lanes.open(name, which), events, reference, which);
    log(`  ${summary(run)}`);
    return run;
  };
  const copy = await timedLimit('postgres COPY', limitsAt.copy);
  const postgres = await lane('pg_only', 'postgres');
  const insertMany = await timedLimit('mongo insertMany', limitsAt.insertMany);
  const mongo = await lane('mongo_only', 'mongo');
  const combined = await timedLimit('both at once', limitsAt.combined);
  const runs: HandlerSamples[] = [];
  let replay: HandlerSamples | undefined;
  let storage: StorageSample | undefined;
  for (const size of [reference, ...sizes.filter((s) => s !== reference)]) {
    log(`handler at batch ${size}`);
    const laneOfSize = await lanes.open(`handler_${size}`);
    const sized = size === reference ? events : eventsOf(records, size);
    runs.push(await runHandler(laneOfSize, sized, size));
    log(`  ${summary(runs[runs.length - 1])}`);
    if (size !== reference) continue;
    const replayed = sized.slice(0, Math.ceil(REPLAY_RECORDS / size));
    log(`replay of the first ${replayed.length * size} records (everything already present)`);
    replay = await runHandler(laneOfSize, replayed, size);
    log(`  ${summary(replay)}`);
    storage = await measureStorage(laneOfSize.config, valueBytesOf(records));
  }
  runs.sort((a, b) => a.batchSize - b.batchSize);
  const orders = await ordersLane(lanes, records.length, reference);
  return {
    limits: { copy, insertMany, combined },
    handler: { runs, replay, referenceBatchSize: reference },
    lanes: { postgres, mongo, orders },
    storage: storage as StorageSample,
  };
}

/** The `orders` route's lane: as many synthetic orders as quotes, both stores, the reference batch size. */
async function ordersLane(lanes: Lanes, n: number, batchSize: number): Promise<HandlerSamples> {
  log(`handler, orders route, batch ${batchSize}`);
  const type = ordersType();
  const events = eventsOf(syntheticOrders(n, 2024), batchSize);
  const run = await runHandler(await lanes.open('orders', 'postgres,mongo', type), events, batchSize, undefined, type);
  log(`  ${summary(run)}`);
  return run;
}

/** A limit, logged. */
async function timedLimit(what: string, limit: () => Promise<Timed>): Promise<Timed> {
  log(`limit: ${what}`);
  const t = await limit();
  log(`  ${rateOf(t)} rec/s`);
  return t;
}

/** The mean size of the records' values, as sent. */
const valueBytesOf = (records: readonly KafkaEventRecord[]) =>
  records.reduce((n, r) => n + Buffer.byteLength(r.value ?? '', 'base64'), 0) / records.length;

/**
 * One memory probe (bench/memory.ts) in a fresh process: the bench process holds every
 * contender's data, so its own RSS says little about the handler's.
 */
async function memoryProbe(batchSize: number): Promise<MemoryProbe> {
  return probe<MemoryProbe>('bench/memory.ts', ['--batch', String(batchSize)], 'memory probe');
}

/**
 * Runs a bench script in a fresh node with the function's NODE_OPTIONS and returns the JSON of its
 * last line (anything before it is incidental output).
 */
async function probe<T>(script: string, args: readonly string[], what: string): Promise<T> {
  const { stdout } = await spawnCapture(
    process.execPath,
    [...functionNodeOptions(), '--expose-gc', '--import', 'tsx', script, ...args],
    { cwd: PROJECT_ROOT, env: { ...process.env, LOG_LEVEL: 'warn' }, check: true, what },
  );
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as T;
}

/** The handler's memory at `batchSize`: {@link MEMORY_PROBES} probes, one after another. */
async function measureMemory(batchSize: number): Promise<BenchResults['memory']> {
  log(`handler memory at batch ${batchSize}: ${MEMORY_PROBES} fresh processes`);
  const probes: MemoryProbe[] = [];
  for (let i = 0; i < MEMORY_PROBES; i++) {
    probes.push(await memoryProbe(batchSize));
    log(`  +${probes[i].maxDeltaMb} MB for a ${probes[i].eventMb} MB event`);
  }
  return { batchSize, probes };
}

/**
 * The handler's CPU time per 1,000 records, alone in fresh processes with the function's
 * NODE_OPTIONS (`bench/profile.ts --plain --json`): this process holds every contender's rows,
 * documents and events, and collecting them would count against the handler.
 */
async function measureCpu(sizes: readonly number[], quick: boolean): Promise<CpuProbe[]> {
  const probes: CpuProbe[] = [];
  for (const batch of sizes) {
    log(`handler CPU at batch ${batch}: ${quick ? 1 : CPU_PROBES} fresh processes`);
    for (let i = 0; i < (quick ? 1 : CPU_PROBES); i++) {
      const records = cpuProbeRecords(batch, quick);
      const args = ['--plain', '--json', '--records', String(records), '--batch', String(batch)];
      const cpu = await probe<CpuProbe>('bench/profile.ts', args, 'CPU probe');
      probes.push(cpu);
      log(`  ${cpu.cpuMsPer1k.toFixed(1)} ms per 1,000 records`);
    }
  }
  return probes;
}

/** Kafka's own limit here: a raw kafkajs read of the whole topic. */
async function measureRawRead(config: Config, topic: string, n: number, groupId: string): Promise<Timed> {
  const consumer = createKafka(config, 'bench-raw').consumer({ groupId, ...RAW_READ_FETCH });
  await consumer.connect();
  try {
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
    return { records: n, ms: performance.now() - t0 };
  } finally {
    await consumer.disconnect();
  }
}

/** `npm run local -- --until-idle` into `lane`, from process start to idle, as a child process. */
async function runEmulator(lane: Lane, topic: string, groupId: string, batchSize: number, n: number): Promise<Timed> {
  const env = {
    KAFKA_TOPIC: topic,
    KAFKA_GROUP_ID: groupId,
    POSTGRES_QUOTES_TABLE: lane.config.POSTGRES_QUOTES_TABLE,
    POSTGRES_DEAD_LETTER_TABLE: lane.config.POSTGRES_DEAD_LETTER_TABLE,
    MONGO_COLLECTION: lane.config.MONGO_COLLECTION,
    LOG_LEVEL: 'warn',
  };
  const tsx = path.join(PROJECT_ROOT, 'node_modules', '.bin', 'tsx');
  const t0 = performance.now();
  await spawnCapture(tsx, ['cli/local.ts', '--until-idle', '--batch-size', String(batchSize)], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...env },
    check: true,
    what: 'emulator',
    // Generous: 10 minutes, or 1 ms per record (1,000 records/s, far below the ~4,700 seen here) for big runs.
    timeoutMs: Math.max(10 * 60_000, n),
  });
  return { records: n, ms: performance.now() - t0 };
}

/** N records on a fresh topic: a raw kafkajs read of it, then the emulator from start to idle. */
async function measureEndToEnd(config: Config, lanes: Lanes, o: BenchOptions): Promise<BenchResults['endToEnd']> {
  log('end to end: emulator from start to idle, and a raw kafkajs read');
  const topic = `${o.run}_e2e`;
  const kafka = createKafka(config, 'bench');
  const admin = kafka.admin();
  await admin.connect();
  try {
    await createTopic(admin, topic);
    await publish(kafka, topic, syntheticMessages(o.records, 2024, 0, { key: true, source: 'bench' }));
    const rawRead = await measureRawRead(config, topic, o.records, `${o.run}_raw`);
    const lane = await lanes.open('e2e');
    const emulatorBatchSize = Math.min(EMULATOR_BATCH_SIZE, o.records);
    const emulator = await runEmulator(lane, topic, `${o.run}_emu`, emulatorBatchSize, o.records);
    return { emulator, emulatorBatchSize, rawRead };
  } finally {
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  }
}

/**
 * What serves the MongoDB wire protocol at MONGO_URL, asked of the server itself: FerretDB answers
 * buildInfo with a `ferretdbVersion`, MongoDB does not. The stack's mode cannot tell: `up` adopts
 * running services (external mode) whatever they are.
 */
async function mongoServer(config: Config, mode: Mode): Promise<string> {
  const client = new MongoClient(config.MONGO_URL, { serverSelectionTimeoutMS: 5_000 });
  try {
    const info = await client.db('admin').command({ buildInfo: 1 });
    if (info.ferretdbVersion === undefined) return `MongoDB ${info.version}`;
    const known = info.ferretdbVersion && info.ferretdbVersion !== 'unknown';
    // The native stack builds FerretDB 1.24 on SQLite (its launcher reports no version).
    if (mode === 'native') return `FerretDB ${known ? info.ferretdbVersion : '1.24'} (SQLite)`;
    return known ? `FerretDB ${info.ferretdbVersion}` : 'FerretDB';
  } finally {
    await client.close();
  }
}

/** The machine and the stack this run is on. */
function machineFacts(mode: Mode, server: string): MachineFacts {
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: `${process.version} ${process.execArgv.filter((a) => a.startsWith('--max')).join(' ')}`.trim(),
    stack: currentMode() ?? mode,
    mongoServer: server,
  };
}

/**
 * How noisy the run's machine was: the 5-minute load average per CPU at the end (about the run's
 * span; above 1, other work waited for a CPU) and the spread of the reference handler's
 * per-event times (p99 / p50). A missed target is shown beside it, never excused.
 */
function noiseFigure(report: BenchReport): string {
  const load = os.loadavg()[1] / Math.max(1, report.machine.cpus);
  const ref = report.handler.find((h) => h.batchSize === report.replay?.batchSize) ?? report.handler.at(-1);
  const spread = ref && ref.p50Ms > 0 ? `, handler per-event p99/p50 ${(ref.p99Ms / ref.p50Ms).toFixed(1)}` : '';
  return `noise: load ${load.toFixed(2)} per CPU (5-minute average)${spread}`;
}

/** The targets a report missed, each as `name value (target)`. */
function missedTargets(report: BenchReport): { name: string; text: string }[] {
  const targets = report.targets as Partial<Record<string, Target>>;
  return Object.entries(report.ratios).flatMap(([name, value]) => {
    const target = targets[name];
    if (value === null || !target || meets(value, target)) return [];
    return [{ name, text: `${name} ${value} (target ${formatTarget(target)})` }];
  });
}

/** The verdict lines: which targets were met, which missed, and whether BENCHMARKS.md expects it. */
export function verdict(report: BenchReport): string[] {
  const missed = missedTargets(report);
  const targets = report.targets as Partial<Record<string, Target>>;
  const total = Object.entries(report.ratios).filter(([k, v]) => v !== null && targets[k]).length;
  const head = `verdict: ${total - missed.length} of ${total} targets met`;
  if (missed.length === 0) return [`${head}.`];
  const lines = [
    `${head}; missed ${missed.length}: ${missed.map((x) => x.text).join(', ')}`,
    `  ${noiseFigure(report)}`,
  ];
  if (report.quick)
    lines.push('  (--quick runs too few records for the targets: it keeps the benchmark working, no more)');
  return lines;
}

/** The baseline the ratios are compared with (bench/baseline.json), if there is one. */
function readBaseline(): Baseline | undefined {
  const file = path.join(PROJECT_ROOT, 'bench', 'baseline.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Baseline) : undefined;
}

/** Every measurement, in order; the caller disposes of the lanes. */
async function measureAll(o: BenchOptions, config: Config, lanes: Lanes, machine: MachineFacts): Promise<BenchResults> {
  const records = benchRecords(o.records);
  const good = goodRecords(records);
  log('naive baseline');
  const naive = await measureNaive(lanes, good.slice(0, o.naiveRecords));
  log(`  ${rateOf(naive)} rec/s`);
  const { limits, handler, lanes: storeLanes, storage } = await measureLanes(lanes, records, limitsOf(lanes, good));
  const memory = await measureMemory(Math.min(MEMORY_BATCH_SIZE, o.records));
  const cpu = await measureCpu(handlerBatchSizes(o.records), o.quick);
  log(`cold start: bundle, zip, require in ${COLD_START_RUNS} fresh processes`);
  const coldStart = await measureColdStart();
  const ms = (xs: number[]) => xs.map(Math.round).join('/');
  log(
    `  bundle ${coldStart.bundleBytes} B, zip ${coldStart.zipBytes} B, require ${ms(coldStart.requireMs)} ms, first call ${ms(coldStart.firstCallMs)} ms, bare ${ms(coldStart.bareMs)} ms`,
  );
  const endToEnd = await measureEndToEnd(config, lanes, o);
  return {
    date: new Date().toISOString(),
    quick: o.quick,
    records: o.records,
    machine,
    naive,
    limits,
    handler,
    lanes: storeLanes,
    storage,
    memory,
    cpu,
    coldStart,
    endToEnd,
  };
}

async function main(argv: string[]): Promise<void> {
  const options = parseOptions(argv);
  // The handler runs in this process: with the function's V8 options (npm run bench passes them).
  const missing = functionNodeOptions().filter((o) => !process.execArgv.includes(o));
  if (missing.length)
    log(
      `warning: not run with the function's NODE_OPTIONS (${missing.join(' ')}): CPU and RSS figures are not the function's`,
    );
  const { mode } = await up(log);
  loadStackEnv();
  const config = loadConfig();
  // The environment may point elsewhere than the stack up just checked: ask each service once.
  await reachable(config, ['kafka', 'postgres', 'mongo']);
  const machine = machineFacts(mode, await mongoServer(config, mode));
  log(`${options.records} records (naive loop on ${options.naiveRecords}), stack ${mode}, ${machine.mongoServer}`);
  const lanes = new Lanes(options.run);
  let results: BenchResults;
  try {
    results = await measureAll(options, config, lanes, machine);
  } finally {
    // Clean up the run's tables and collections, also after a failed measurement.
    await lanes.dispose();
  }
  const report = buildReport(results, readBaseline());
  // --quick never replaces the tracked full-run results (latest.json).
  writeResult(report, '', options.quick ? 'latest-quick.json' : 'latest.json');
  printReport(report);
  console.log('');
  for (const line of verdict(report)) console.log(line);
}

runMain('bench', main);
