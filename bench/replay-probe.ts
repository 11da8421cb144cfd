/**
 * Replay cost against a collection of N stored documents (issue 24, item 2): writes N synthetic
 * quotes through the MongoStore (once per collection), then times the store's write of the first
 * `--replay` records again (every one already present) and of as many new records (a first write),
 * alternating. Prints one line per round: milliseconds of each.
 *
 *   node --import tsx bench/replay-probe.ts [--stored 100000] [--replay 1000] [--rounds 3] [--collection NAME]
 */
import { performance } from 'node:perf_hooks';
import { MongoClient } from 'mongodb';
import { z } from 'zod';
import { defineCommand, intFlag, parseCommand } from '../tools/cli/args';
import { runMain } from '../tools/cli/main';
import { loadConfig, loadStackEnv } from '../lib/config';
import { buildEvent } from '../tools/emulator/event';
import { eventRecords, parseEvent } from '../lib/event/parse';
import type { Quote } from '../lib/records/quote';
import { quotesRoute } from '../lib/routes/default';
import type { GoodRecord } from '../lib/sink/model';
import { sortRecord } from '../lib/sink/prepare';
import { MongoStore, mongoOptions } from '../lib/mongo/store';
import { syntheticRecords } from './common';

const quoteType = quotesRoute();

export const REPLAY_PROBE = defineCommand({
  command: 'node --import tsx bench/replay-probe.ts',
  summary: 'Times a replayed chunk (every record present) and a first write, against N stored documents.',
  flags: {
    stored: { type: 'string', value: 'N', help: 'documents stored first (default 100,000)' },
    replay: { type: 'string', value: 'N', help: 'records replayed per round (default 1,000)' },
    rounds: { type: 'string', value: 'N', help: 'replay/first-write pairs (default 3)' },
    collection: { type: 'string', value: 'NAME', help: 'collection (default replay_probe_<stored>, dropped first)' },
  },
  schema: z
    .object({
      stored: intFlag(1).default('100000'),
      replay: intFlag(1).default('1000'),
      rounds: intFlag(1).default('3'),
      collection: z.string().optional(),
    })
    .strict(),
});

/** The sink's records at offsets `from..from+n` of partition 0..2, decoded by the sink's own code. */
function goodRecords(from: number, n: number): GoodRecord<Quote>[] {
  const records = syntheticRecords(n, 7, (i) => ({ partition: (from + i) % 3, offset: Math.floor((from + i) / 3) }));
  const event = parseEvent(JSON.parse(JSON.stringify(buildEvent('self-managed', '127.0.0.1:9092', records))));
  return eventRecords(event).map((r) => {
    const s = sortRecord(r, quoteType);
    if (s.kind !== 'record') throw new Error(`record ${r.offset} is not valid`);
    return s.record;
  });
}

async function timed(store: MongoStore<Quote>, records: GoodRecord<Quote>[]): Promise<[number, string]> {
  const t0 = performance.now();
  const r = await store.write(records, new Date());
  return [
    performance.now() - t0,
    `written ${r.written} present ${r.alreadyPresent} rejected ${r.rejected?.length ?? 0}`,
  ];
}

async function main(argv: string[]): Promise<number> {
  const o = parseCommand(REPLAY_PROBE, argv);
  loadStackEnv();
  const config = loadConfig();
  const client = new MongoClient(config.MONGO_URL, mongoOptions(config));
  const collection = o.collection ?? `replay_probe_${o.stored}`;
  const store = new MongoStore<Quote>(client, { database: config.MONGO_DATABASE, collection }, quoteType);
  // Synthetic values are not the same from one process to the next: the replay is of this process's records.
  await client
    .db(config.MONGO_DATABASE)
    .collection(collection)
    .drop()
    .catch(() => undefined);
  const replayed = goodRecords(0, o.replay);
  await store.write(replayed, new Date());
  for (let at = o.replay; at < o.stored; at += 10_000)
    await store.write(goodRecords(at, Math.min(10_000, o.stored - at)), new Date());
  console.log(`${collection}: ${o.stored} stored`);
  let next = 10_000_000 + (Date.now() % 1_000_000) * 3_000;
  for (let round = 1; round <= o.rounds; round++) {
    const [replayMs, replayWhat] = await timed(store, replayed);
    const [firstMs, firstWhat] = await timed(store, goodRecords(next, o.replay));
    next += o.replay;
    console.log(
      `round ${round}: replay ${replayMs.toFixed(0)} ms (${replayWhat}); first ${firstMs.toFixed(0)} ms (${firstWhat})`,
    );
  }
  await store.close();
  return 0;
}

if (require.main === module) runMain('replay probe', main);
