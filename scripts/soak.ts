/**
 * `npm run soak [-- --records N] [--batch-size B] [--fetch-max-bytes N] [--partition-fetch-max-bytes N] [--keep]`:
 * N synthetic records (1% invalid) through the emulator and the handler on the stack. Reports the
 * emulator's RSS (start, peak, end), checks that lag returns to zero and that the counts are
 * exact; exits 1 if not. Writes bench/results/soak-<timestamp>.json and bench/results/latest-soak.json.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Admin } from 'kafkajs';
import { MongoClient } from 'mongodb';
import pg from 'pg';
import { createTopic, dropStores, writeResult } from '../bench/common';
import { PROJECT_ROOT, loadConfig, loadStackEnv, type Config } from '../lib/config';
import { createKafka } from '../lib/kafka';
import { publish, syntheticMessages } from '../lib/producer/publish';
import { qualifiedTable } from '../lib/sink/tables';
import { up } from '../lib/stack/stack';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '1000000' },
    'batch-size': { type: 'string', default: '1000' },
    keep: { type: 'boolean', default: false },
    'fetch-max-bytes': { type: 'string' },
    'partition-fetch-max-bytes': { type: 'string' },
  },
});
/** Fetch limits handed to the emulator, when given. */
const fetchArgs = (['fetch-max-bytes', 'partition-fetch-max-bytes'] as const).flatMap((k) =>
  values[k] ? [`--${k}`, values[k] as string] : [],
);
const N = Number(values.records);
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
): Promise<{ code: number | null; runSec: number; samples: RssSample[] }> {
  const t = Date.now();
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'cli/local.ts', '--until-idle', '--batch-size', values['batch-size'], ...fetchArgs],
    { cwd: PROJECT_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] },
  );
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

async function main(): Promise<void> {
  await up(log);
  loadStackEnv();
  const id = `soak_${Date.now().toString(36)}`;
  const env = {
    KAFKA_TOPIC: id,
    KAFKA_GROUP_ID: `${id}_group`,
    POSTGRES_QUOTES_TABLE: `${id}_quotes`,
    POSTGRES_DEAD_LETTER_TABLE: `${id}_dl`,
    MONGO_COLLECTION: `${id}_quotes`,
    LOG_LEVEL: 'warn',
  };
  const config = loadConfig({ ...process.env, ...env });
  const kafka = createKafka(config, 'soak');
  const admin = kafka.admin();
  await admin.connect();
  await createTopic(admin, id);

  log(`producing ${N} records (${RATIO * 100}% invalid) to ${id}`);
  const t = Date.now();
  const progress = (n: number) => n % 100_000 === 0 && log(`  ${n}`);
  await publish(kafka, id, syntheticMessages(N, 1, RATIO, { key: true, source: 'soak' }), progress, 5_000);
  const produceSec = (Date.now() - t) / 1000;

  log('running the emulator until idle');
  const { code, runSec, samples } = await runEmulator(env);
  const lag = await lagAfter(admin, id, env.KAFKA_GROUP_ID);
  const got = await countStored(config);
  const invalid = Math.floor(N * RATIO);
  const expected = { rows: N - invalid, docs: N - invalid, deadLetters: invalid };
  const exact = JSON.stringify(expected) === JSON.stringify(got);
  const rss = rssSummary(samples, runSec);
  const result = {
    date: new Date().toISOString(),
    records: N,
    batchSize: Number(values['batch-size']),
    fetchArgs,
    produceSec,
    runSec,
    recordsPerSec: Math.round(N / runSec),
    emulatorExit: code,
    lagAfter: lag,
    expected,
    got,
    exact,
    rss,
    rssSamples: samples.filter((_, i) => i % Math.max(1, Math.floor(samples.length / KEPT_SAMPLES)) === 0),
  };

  if (!values.keep) {
    await dropStores([config]);
    await admin.deleteTopics({ topics: [id] }).catch(() => undefined);
  }
  await admin.disconnect();

  writeResult(result, 'soak-', 'latest-soak.json');
  const counts = `${JSON.stringify(got)} ${exact ? 'exact' : `EXPECTED ${JSON.stringify(expected)}`}`;
  console.log(
    `soak: ${N} records in ${runSec.toFixed(1)}s (${result.recordsPerSec} rec/s); lag after ${lag.join('/')}; counts ${counts}; emulator RSS start ${rss.startMb} MB, peak ${rss.peakMb} MB, end ${rss.endMb} MB`,
  );
  if (code !== 0 || !exact || lag.some((x) => x !== 0)) process.exitCode = 1;
}

main().catch((e: Error) => {
  console.error(`soak failed: ${e.stack ?? e.message}`);
  process.exit(1);
});
