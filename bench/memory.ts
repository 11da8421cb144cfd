/**
 * The handler's memory at one batch size, measured in a process of its own, as a Lambda container
 * sees it: the runtime hands over the parsed event, the handler processes it. The benchmark's main
 * process holds every contender's events and rows, so its RSS says little about the handler.
 *
 * For each round: build a fresh event (new offsets, so every round is a first write), run a full
 * GC, take the RSS as the baseline, then sample the RSS every 2 ms while processBatch runs.
 * Prints one JSON line: event size, baseline, peak and the largest peak − baseline.
 *
 *   node --expose-gc --import tsx bench/memory.ts [--batch 10000] [--rounds 1] [--chunk N]
 *
 * Writes into a fresh table and collection of its own, and drops them at the end.
 */
import { z } from 'zod';
import { defineCommand, intFlag, parseCommand } from '../tools/cli/args';
import { runMain } from '../tools/cli/main';
import { loadConfig, loadStackEnv } from '../lib/config';
import { dropStores, syntheticRecords, watchRss } from './common';
import { toMb, type MemoryProbe } from './report';
import { buildEvent } from '../tools/emulator/event';
import { quotesRoute } from '../lib/routes/default';
import { processBatch } from '../lib/sink/batch';
import { openStores } from '../lib/stores';

/** The sink file's quotes route, as the function sinks quotes. */
const quoteType = quotesRoute();

export const MEMORY = defineCommand({
  command: 'node --expose-gc --import tsx bench/memory.ts',
  summary: [
    "The handler's memory at one batch size, in a process of its own: one JSON line with the event's size,",
    'the baseline RSS, the peak and the largest peak − baseline over the rounds.',
  ].join('\n'),
  flags: {
    batch: { type: 'string', value: 'N', help: 'records in the batch (default 10,000)' },
    rounds: { type: 'string', value: 'N', help: 'rounds, each a fresh event (default 1)' },
    chunk: { type: 'string', value: 'N', help: "the sink's write chunk (default: the sink's own)" },
  },
  schema: z
    .object({
      batch: intFlag(1).default('10000'),
      rounds: intFlag(1).default('1'),
      chunk: intFlag(1).optional(),
    })
    .strict(),
  notes: ['Writes into a fresh table and collection of its own, and drops them at the end.'],
});
/** RSS sampling interval: short, as a 10,000-record batch takes only about 2 s. */
const SAMPLE_MS = 2;

/** One round's figures, in MB. */
interface Round {
  baselineMb: number;
  peakMb: number;
  deltaMb: number;
}

/** One event of `n` records on partition 0 from `offset`, round-tripped through JSON as Lambda delivers it. */
const event = (n: number, offset: number): unknown =>
  JSON.parse(
    JSON.stringify(
      buildEvent(
        'self-managed',
        '127.0.0.1:9092',
        syntheticRecords(n, 7 + offset, (i) => ({ partition: 0, offset: offset + i })),
      ),
    ),
  );

async function main(argv: string[]): Promise<void> {
  const { batch, rounds: roundCount, chunk } = parseCommand(MEMORY, argv);
  loadStackEnv();
  const run = `benchmem_${Date.now().toString(36)}`;
  const config = loadConfig({
    ...process.env,
    POSTGRES_QUOTES_TABLE: run,
    POSTGRES_DEAD_LETTER_TABLE: `${run}_dl`,
    MONGO_COLLECTION: run,
  });
  const stores = openStores(config, quoteType);

  // Warm-up: connections, schema, indexes and the JIT, so round 1 measures a warm container.
  await processBatch(event(100, 0), quoteType, stores, { tombstones: 'skip' });

  const rounds: Round[] = [];
  let eventMb = 0;
  for (let r = 0; r < roundCount; r++) {
    let ev: unknown = event(batch, 1_000 + r * batch);
    eventMb = toMb(JSON.stringify(ev).length, 2);
    global.gc?.();
    const watch = watchRss(SAMPLE_MS);
    await processBatch(ev, quoteType, stores, { tombstones: 'skip', writeChunk: chunk });
    const { baseline, peak } = watch.stop();
    // Let the event go before the next round builds its own.
    ev = undefined;
    rounds.push({ baselineMb: toMb(baseline), peakMb: toMb(peak), deltaMb: toMb(peak - baseline, 1) });
  }

  await dropStores([config]);
  await stores.close();

  const worst = rounds.reduce((a, b) => (b.deltaMb > a.deltaMb ? b : a));
  const out: MemoryProbe & { rounds: Round[] } = {
    batchSize: batch,
    eventMb,
    baselineRssMb: worst.baselineMb,
    peakRssMb: worst.peakMb,
    maxDeltaMb: worst.deltaMb,
    rounds,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

if (require.main === module) runMain('bench memory', main);
