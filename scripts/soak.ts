/**
 * `npm run soak [-- --records N] [--batch-size B] [--keep]`: N synthetic records (1% invalid)
 * through the emulator and the handler on the stack. Reports the emulator's RSS (start, peak,
 * end), checks that lag returns to zero and that the counts are exact; exits 1 if not.
 * Writes bench/results/soak-<timestamp>.json and bench/results/latest-soak.json.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { MongoClient } from 'mongodb';
import pg from 'pg';
import { PROJECT_ROOT, loadConfig, loadStackEnv } from '../lib/config';
import { createKafka } from '../lib/kafka';
import { publish, syntheticMessages } from '../lib/producer/publish';
import { up } from '../lib/stack/stack';

const { values } = parseArgs({ options: { records: { type: 'string', default: '1000000' }, 'batch-size': { type: 'string', default: '1000' }, keep: { type: 'boolean', default: false }, 'fetch-max-bytes': { type: 'string' }, 'partition-fetch-max-bytes': { type: 'string' } } });
/** Fetch limits handed to the emulator, when given. */
const fetchArgs = (['fetch-max-bytes', 'partition-fetch-max-bytes'] as const).flatMap((k) => (values[k] ? [`--${k}`, values[k] as string] : []));
const N = Number(values.records);
const RATIO = 0.01;
const log = (m: string) => process.stderr.write(`[soak] ${m}\n`);

function rssMb(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : undefined;
  } catch {
    return undefined;
  }
}

async function main(): Promise<void> {
  await up(log);
  loadStackEnv();
  const id = `soak_${Date.now().toString(36)}`;
  const env = { KAFKA_TOPIC: id, KAFKA_GROUP_ID: `${id}_group`, POSTGRES_QUOTES_TABLE: `${id}_quotes`, POSTGRES_DEAD_LETTER_TABLE: `${id}_dl`, MONGO_COLLECTION: `${id}_quotes`, LOG_LEVEL: 'warn' };
  const config = loadConfig({ ...process.env, ...env });
  const kafka = createKafka(config, 'soak');
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic: id, numPartitions: 3, replicationFactor: 1 }] });

  log(`producing ${N} records (${RATIO * 100}% invalid) to ${id}`);
  let t = Date.now();
  await publish(kafka, id, syntheticMessages(N, 1, RATIO, { key: true, source: 'soak' }), (n) => n % 100_000 === 0 && log(`  ${n}`), 5_000);
  const produceSec = (Date.now() - t) / 1000;

  log('running the emulator until idle');
  t = Date.now();
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/local.ts', '--until-idle', '--batch-size', values['batch-size'], ...fetchArgs], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const samples: { s: number; mb: number }[] = [];
  const sampler = setInterval(() => {
    const mb = rssMb(child.pid as number);
    if (mb !== undefined) samples.push({ s: Math.round((Date.now() - t) / 100) / 10, mb });
  }, 500);
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  clearInterval(sampler);
  const runSec = (Date.now() - t) / 1000;

  const [offsets, committed] = await Promise.all([admin.fetchTopicOffsets(id), admin.fetchOffsets({ groupId: env.KAFKA_GROUP_ID, topics: [id] })]);
  const lag = offsets.map((o) => Number(o.high) - Number(committed[0].partitions.find((p) => p.partition === o.partition)?.offset ?? 0));
  const client = new pg.Client({ connectionString: config.POSTGRES_URL });
  await client.connect();
  const { rows } = await client.query(`select (select count(*) from "${env.POSTGRES_QUOTES_TABLE}")::int q, (select count(*) from "${env.POSTGRES_DEAD_LETTER_TABLE}")::int d`);
  const mongo = await MongoClient.connect(config.MONGO_URL);
  const col = mongo.db(config.MONGO_DATABASE).collection(env.MONGO_COLLECTION);
  const docs = await col.countDocuments();
  const invalid = Math.floor(N * RATIO);
  const expected = { rows: N - invalid, docs: N - invalid, deadLetters: invalid };
  const got = { rows: rows[0].q, docs, deadLetters: rows[0].d };
  const exact = JSON.stringify(expected) === JSON.stringify(got);

  // "Start" is once the emulator has warmed up (first samples after 10 s, or the first tenth of the run).
  const warm = samples.filter((x) => x.s >= Math.min(10, runSec / 10));
  const rss = { startMb: warm[0]?.mb ?? samples[0]?.mb, peakMb: Math.max(...samples.map((x) => x.mb)), endMb: samples[samples.length - 1]?.mb };
  const result = { date: new Date().toISOString(), records: N, batchSize: Number(values['batch-size']), fetchArgs, produceSec, runSec, recordsPerSec: Math.round(N / runSec), emulatorExit: code, lagAfter: lag, expected, got, exact, rss, rssSamples: samples.filter((_, i) => i % Math.max(1, Math.floor(samples.length / 40)) === 0) };

  if (!values.keep) {
    await client.query(`drop table if exists "${env.POSTGRES_QUOTES_TABLE}", "${env.POSTGRES_DEAD_LETTER_TABLE}"`);
    await col.drop().catch(() => undefined);
    await admin.deleteTopics({ topics: [id] }).catch(() => undefined);
  }
  await client.end();
  await mongo.close();
  await admin.disconnect();

  const dir = path.join(PROJECT_ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const json = `${JSON.stringify(result, null, 2)}\n`;
  writeFileSync(path.join(dir, `soak-${result.date.replace(/[:.]/g, '-')}.json`), json);
  writeFileSync(path.join(dir, 'latest-soak.json'), json);
  console.log(`soak: ${N} records in ${runSec.toFixed(1)}s (${result.recordsPerSec} rec/s); lag after ${lag.join('/')}; counts ${JSON.stringify(got)} ${exact ? 'exact' : `EXPECTED ${JSON.stringify(expected)}`}; emulator RSS start ${rss.startMb} MB, peak ${rss.peakMb} MB, end ${rss.endMb} MB`);
  if (code !== 0 || !exact || lag.some((x) => x !== 0)) process.exitCode = 1;
}

main().catch((e: Error) => {
  console.error(`soak failed: ${e.stack ?? e.message}`);
  process.exit(1);
});
