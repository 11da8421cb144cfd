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
 * Writes into a fresh table and collection of its own, and drops them at the end.
 */
import { parseArgs } from 'node:util';
import { loadConfig, loadStackEnv } from '../lib/config';
import { dropStores, syntheticRecords } from './common';
import { buildEvent } from '../lib/event/build';
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
const event = (n: number, offset: number): unknown =>
  JSON.parse(JSON.stringify(buildEvent('self-managed', '127.0.0.1:9092', syntheticRecords(n, 7 + offset, (i) => ({ partition: 0, offset: offset + i })))));

async function main(): Promise<void> {
  loadStackEnv();
  const run = `benchmem_${Date.now().toString(36)}`;
  const config = loadConfig({ ...process.env, POSTGRES_QUOTES_TABLE: run, POSTGRES_DEAD_LETTER_TABLE: `${run}_dl`, MONGO_COLLECTION: run });
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

  await dropStores([config]);
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
