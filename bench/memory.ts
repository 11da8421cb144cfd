/**
 * The handler's memory at one batch size, measured in a process of its own, as a Lambda container
 * sees it: the runtime hands over the parsed event, the handler processes it. The benchmark's main
 * process holds every contender's events and rows, so its RSS says little about the handler.
 *
 * For each round: build a fresh event (new offsets, so every round is a first write), run a full
 * GC, take the RSS as the baseline, then sample the RSS every 2 ms while processBatch runs.
 * Prints one JSON line: event size, baseline, peak and the largest peak − baseline.
 *
 *   node --expose-gc --import tsx bench/memory.ts [--batch 10000] [--rounds 5]
 *
 * Writes into its own table and collection (POSTGRES_QUOTES_TABLE / MONGO_COLLECTION from the
 * environment when the benchmark passes them, else a fresh pair), and drops them when run alone.
 */
import { parseArgs } from 'node:util';
import { MongoClient } from 'mongodb';
import pg from 'pg';
import { loadConfig, loadStackEnv } from '../lib/config';
import { buildEvent, toEventRecord } from '../lib/event/build';
import type { KafkaEventRecord } from '../lib/event/types';
import { syntheticMessages } from '../lib/producer/publish';
import { quoteType } from '../lib/records/quote';
import type { RecordType } from '../lib/records/record-type';
import { processBatch } from '../lib/sink/batch';
import { MongoStore } from '../lib/sink/mongo';
import { PostgresStore } from '../lib/sink/postgres';

const { values } = parseArgs({ options: { batch: { type: 'string', default: '10000' }, rounds: { type: 'string', default: '1' }, chunk: { type: 'string' } } });
const BATCH = Number(values.batch);
const ROUNDS = Number(values.rounds);
const CHUNK = values.chunk ? Number(values.chunk) : undefined;
const type = quoteType as RecordType<unknown>;
const MB = 1048576;

/** One event of `n` records on partition 0 from `offset`, round-tripped through JSON as Lambda delivers it. */
function event(n: number, offset: number): unknown {
  const records: KafkaEventRecord[] = [];
  let i = 0;
  for (const m of syntheticMessages(n, 7 + offset, 0, { key: true, source: 'bench' })) {
    records.push(toEventRecord({ topic: 'quotes', partition: 0, offset: offset + i, timestamp: 1_700_000_000_000 + i, key: m.key as string, value: m.value as string, headers: m.headers as Record<string, string> }));
    i++;
  }
  return JSON.parse(JSON.stringify(buildEvent('self-managed', '127.0.0.1:9092', records)));
}

async function main(): Promise<void> {
  loadStackEnv();
  const own = !process.env.POSTGRES_QUOTES_TABLE;
  const run = `benchmem_${Date.now().toString(36)}`;
  const config = loadConfig(own ? { ...process.env, POSTGRES_QUOTES_TABLE: run, POSTGRES_DEAD_LETTER_TABLE: `${run}_dl`, MONGO_COLLECTION: run } : process.env);
  const stores = { postgres: new PostgresStore(config, type), mongo: new MongoStore(config) };

  // Warm-up: connections, schema, indexes and the JIT, so round 1 measures a warm container.
  await processBatch(event(100, 0), type, stores, { tombstones: 'skip' });

  const rounds: { baselineMb: number; peakMb: number; deltaMb: number }[] = [];
  let eventMb = 0;
  for (let r = 0; r < ROUNDS; r++) {
    let ev: unknown = event(BATCH, 1_000 + r * BATCH);
    eventMb = JSON.stringify(ev).length / MB;
    global.gc?.();
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 2);
    await processBatch(ev, type, stores, { tombstones: 'skip', writeChunk: CHUNK });
    clearInterval(sampler);
    peak = Math.max(peak, process.memoryUsage().rss);
    ev = undefined;
    rounds.push({ baselineMb: Math.round(baseline / MB), peakMb: Math.round(peak / MB), deltaMb: Math.round(((peak - baseline) / MB) * 10) / 10 });
  }

  if (own) {
    const c = new pg.Client({ connectionString: config.POSTGRES_URL });
    await c.connect();
    await c.query(`drop table if exists "${run}", "${run}_dl"`);
    await c.end();
    const m = await MongoClient.connect(config.MONGO_URL);
    await m.db(config.MONGO_DATABASE).collection(run).drop().catch(() => undefined);
    await m.close();
  }
  await Promise.all([stores.postgres.close(), stores.mongo.close()]);

  const worst = rounds.reduce((a, b) => (b.deltaMb > a.deltaMb ? b : a));
  const out = { batchSize: BATCH, eventMb: Math.round(eventMb * 100) / 100, baselineRssMb: worst.baselineMb, peakRssMb: worst.peakMb, maxDeltaMb: worst.deltaMb, rounds };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main().then(
  () => process.exit(0),
  (e: Error) => {
    console.error(`bench memory failed: ${e.stack ?? e.message}`);
    process.exit(1);
  },
);
