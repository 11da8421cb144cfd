/**
 * `npm run soak [-- --records N] [--batch-size B] [--fetch-max-bytes N] [--partition-fetch-max-bytes N] [--keep] [--save]`:
 * N synthetic records (1% invalid) through the emulator and the handler on the stack. Reports the
 * emulator's RSS (start, peak, end), checks that lag returns to zero and that the counts are
 * exact; exits 1 if not. Writes bench/results/soak-<timestamp>.json (not tracked), and the tracked
 * bench/results/latest-soak.json only with --save.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import type { Admin } from 'kafkajs';
import { MongoClient } from 'mongodb';
import pg from 'pg';
import { z } from 'zod';
import { createTopic, dropStores, writeResult } from './common';
import { defineCommand, intFlag, parseCommand } from '../tools/cli/args';
import { runMain } from '../tools/cli/main';
import { reachable } from '../tools/cli/reachable';
import { PROJECT_ROOT, loadConfig, loadStackEnv, type Config } from '../lib/config';
import { createKafka } from '../tools/kafka';
import { publish, syntheticMessages } from '../tools/producer/publish';
import { qualifiedTable } from '../lib/postgres/names';
import { up } from '../tools/stack/stack';

export const SOAK = defineCommand({
  command: 'npm run soak --',
  summary: [
    'N synthetic records (1% invalid) through the emulator and the handler on the stack, on a topic,',
    "tables and a collection of its own: the emulator's RSS (start, peak, end), lag after, exact counts.",
    'Exits 1 unless the emulator exits 0, the lag is 0 and the counts are exact.',
  ].join('\n'),
  flags: {
    records: { type: 'string', value: 'N', help: 'records (default 1,000,000)' },
    'batch-size': { type: 'string', value: 'N', help: "the emulator's --batch-size, 1 to 10,000 (default 1,000)" },
    'fetch-max-bytes': { type: 'string', value: 'N', help: "the emulator's --fetch-max-bytes (default: its own)" },
    'partition-fetch-max-bytes': { type: 'string', value: 'N', help: "the emulator's --partition-fetch-max-bytes" },
    keep: { type: 'boolean', help: 'keep the topic, tables and collection afterwards' },
    save: { type: 'boolean', help: 'also write the tracked bench/results/latest-soak.json' },
  },
  schema: z
    .object({
      records: intFlag(100, 100_000_000).default('1000000'),
      'batch-size': intFlag(1, 10_000).default('1000'),
      'fetch-max-bytes': intFlag(65_536, 1_073_741_824).optional(),
      'partition-fetch-max-bytes': intFlag(65_536, 1_073_741_824).optional(),
      keep: z.boolean().default(false),
      save: z.boolean().default(false),
    })
    .strict(),
  notes: ['Results: bench/results/soak-<date>.json every run; bench/results/latest-soak.json with --save.'],
});

type SoakOptions = z.infer<typeof SOAK.schema>;

/** Fetch limits handed to the emulator, when given. */
const fetchArgs = (o: SoakOptions): string[] =>
  (['fetch-max-bytes', 'partition-fetch-max-bytes'] as const).flatMap((k) =>
    o[k] === undefined ? [] : [`--${k}`, String(o[k])],
  );

/** The share of records the producer makes invalid: they must end up as dead letters. */
const RATIO = 0.01;
/** How often the emulator's RSS is read from /proc. */
const RSS_SAMPLE_MS = 500;
/** The result keeps about this many RSS samples, evenly spaced. */
const KEPT_SAMPLES = 40;
const log = (m: string) => process.stderr.write(`[soak] ${m}\n`);

/** The RSS of process `pid` in MB, from /proc; undefined once it has gone. */
function rssMb(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : undefined;
  } catch {
    return undefined;
  }
}

interface RssSample {
  /** Seconds since the emulator started. */
  s: number;
  mb: number;
}

/**
 * Runs the emulator until idle with its stderr shown, sampling its RSS. Not through spawnCapture:
 * the sampler needs the child's pid, and its output is progress for the user, not data.
 */
async function runEmulator(
  env: Record<string, string>,
  args: string[],
): Promise<{ code: number | null; runSec: number; samples: RssSample[] }> {
  const t = Date.now();
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/local.ts', ...args], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const samples: RssSample[] = [];
  const sampler = setInterval(() => {
    const mb = rssMb(child.pid as number);
    if (mb !== undefined) samples.push({ s: Math.round((Date.now() - t) / 100) / 10, mb });
  }, RSS_SAMPLE_MS);
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  clearInterval(sampler);
  return { code, runSec: (Date.now() - t) / 1000, samples };
}

/** Per partition of `topic`: its end offset minus the group's committed offset. */
async function lagAfter(admin: Admin, topic: string, groupId: string): Promise<number[]> {
  const [offsets, committed] = await Promise.all([
    admin.fetchTopicOffsets(topic),
    admin.fetchOffsets({ groupId, topics: [topic] }),
  ]);
  return offsets.map(
    (o) => Number(o.high) - Number(committed[0].partitions.find((p) => p.partition === o.partition)?.offset ?? 0),
  );
}

/** Rows, documents and dead letters stored where `config` points. */
async function countStored(config: Config): Promise<{ rows: number; docs: number; deadLetters: number }> {
  const client = new pg.Client({ connectionString: config.POSTGRES_URL });
  await client.connect();
  const mongo = await MongoClient.connect(config.MONGO_URL);
  try {
    const { rows } = await client.query<{ q: number; d: number }>(
      `select (select count(*) from ${qualifiedTable(config, 'records')})::int q, (select count(*) from ${qualifiedTable(config, 'deadLetters')})::int d`,
    );
    const docs = await mongo.db(config.MONGO_DATABASE).collection(config.MONGO_COLLECTION).countDocuments();
    return { rows: rows[0].q, docs, deadLetters: rows[0].d };
  } finally {
    await client.end();
    await mongo.close();
  }
}

/** Start, peak and end RSS. "Start" is once the emulator has warmed up: after 10 s, or the first tenth of the run. */
function rssSummary(samples: readonly RssSample[], runSec: number) {
  const warm = samples.filter((x) => x.s >= Math.min(10, runSec / 10));
  return {
    startMb: warm[0]?.mb ?? samples[0]?.mb,
    peakMb: Math.max(...samples.map((x) => x.mb)),
    endMb: samples[samples.length - 1]?.mb,
  };
}

/** The topic, group, tables and collection of one run, as environment for the emulator. */
function runEnv(id: string): Record<string, string> {
  return {
    KAFKA_TOPIC: id,
    KAFKA_GROUP_ID: `${id}_group`,
    POSTGRES_QUOTES_TABLE: `${id}_quotes`,
    POSTGRES_DEAD_LETTER_TABLE: `${id}_dl`,
    MONGO_COLLECTION: `${id}_quotes`,
    LOG_LEVEL: 'warn',
  };
}

/** Produces, runs the emulator until idle, and measures: the result to write. */
async function soak(o: SoakOptions, id: string, env: Record<string, string>, config: Config, admin: Admin) {
  const n = o.records;
  log(`producing ${n} records (${RATIO * 100}% invalid) to ${id}`);
  const t = Date.now();
  const progress = (sent: number) => sent % 100_000 === 0 && log(`  ${sent}`);
  const kafka = createKafka(config, 'soak');
  await publish(kafka, id, syntheticMessages(n, 1, RATIO, { key: true, source: 'soak' }), progress, 5_000);
  const produceSec = (Date.now() - t) / 1000;

  log('running the emulator until idle');
  const args = ['--until-idle', '--batch-size', String(o['batch-size']), ...fetchArgs(o)];
  const { code, runSec, samples } = await runEmulator(env, args);
  const lag = await lagAfter(admin, id, env.KAFKA_GROUP_ID);
  const got = await countStored(config);
  const invalid = Math.floor(n * RATIO);
  const expected = { rows: n - invalid, docs: n - invalid, deadLetters: invalid };
  return {
    date: new Date().toISOString(),
    records: n,
    batchSize: o['batch-size'],
    fetchArgs: fetchArgs(o),
    produceSec,
    runSec,
    recordsPerSec: Math.round(n / runSec),
    emulatorExit: code,
    lagAfter: lag,
    expected,
    got,
    exact: JSON.stringify(expected) === JSON.stringify(got),
    rss: rssSummary(samples, runSec),
    rssSamples: samples.filter((_, i) => i % Math.max(1, Math.floor(samples.length / KEPT_SAMPLES)) === 0),
  };
}

async function main(argv: string[]): Promise<number> {
  const o = parseCommand(SOAK, argv);
  await up(log);
  loadStackEnv();
  const id = `soak_${Date.now().toString(36)}`;
  const env = runEnv(id);
  const config = loadConfig({ ...process.env, ...env });
  // The environment may point elsewhere than the stack up just checked: ask each service once.
  await reachable(config, ['kafka', 'postgres', 'mongo']);
  const admin = createKafka(config, 'soak').admin();
  await admin.connect();
  await createTopic(admin, id);
  let result: Awaited<ReturnType<typeof soak>>;
  try {
    result = await soak(o, id, env, config, admin);
  } finally {
    if (!o.keep) {
      await dropStores([config]);
      await admin.deleteTopics({ topics: [id] }).catch(() => undefined);
    }
    await admin.disconnect();
  }
  // The tracked latest-soak.json is the documented run (BENCHMARKS.md): replaced only when asked.
  const dated = writeResult(result, 'soak-', o.save ? 'latest-soak.json' : undefined);
  log(`results in ${path.relative(PROJECT_ROOT, dated)}${o.save ? ' and bench/results/latest-soak.json' : ''}`);
  const { got, exact, expected, lagAfter: lag, rss } = result;
  const counts = `${JSON.stringify(got)} ${exact ? 'exact' : `EXPECTED ${JSON.stringify(expected)}`}`;
  console.log(
    `soak: ${result.records} records in ${result.runSec.toFixed(1)}s (${result.recordsPerSec} rec/s); lag after ${lag.join('/')}; counts ${counts}; emulator RSS start ${rss.startMb} MB, peak ${rss.peakMb} MB, end ${rss.endMb} MB`,
  );
  return result.emulatorExit !== 0 || !exact || lag.some((x) => x !== 0) ? 1 : 0;
}

runMain('soak', main);
