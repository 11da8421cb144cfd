/**
 * The MongoDB write paths tried for issue 14, side by side on the same documents (the sink's lean
 * document): each inserts N documents in chunks into a fresh collection, and reports documents/s
 * and this process's CPU per 1,000 documents (building the documents included, as the sink pays
 * it). BENCHMARKS.md records what each gave.
 *
 *   node --expose-gc --import tsx bench/mongo-variants.ts [--records 20000] [--rounds 2]
 */
import { performance } from 'node:perf_hooks';
import { MongoClient, type Db, type Document } from 'mongodb';
import { z } from 'zod';
import { defineCommand, intFlag, parseCommand } from '../tools/cli/args';
import { runMain } from '../tools/cli/main';
import { loadConfig, loadStackEnv } from '../lib/config';
import { buildEvent } from '../tools/emulator/event';
import { eventRecords, parseEvent } from '../lib/event/parse';
import type { Quote } from '../lib/records/quote';
import { quotesRoute } from '../lib/routes/default';
import { toDocument, type GoodRecord } from '../lib/sink/model';
import { sortRecord } from '../lib/sink/prepare';
import { syntheticRecords } from './common';

/** The sink file's quotes route, as the function sinks quotes. */
const quoteType = quotesRoute();

export const MONGO_VARIANTS = defineCommand({
  command: 'node --expose-gc --import tsx bench/mongo-variants.ts',
  summary: [
    "The MongoDB write paths tried for issue 14, side by side on the sink's lean documents: documents/s",
    'and CPU per 1,000 documents of each, one line per variant and round.',
  ].join('\n'),
  flags: {
    records: { type: 'string', value: 'N', help: 'documents each variant writes (default 20,000)' },
    rounds: { type: 'string', value: 'N', help: 'times every variant runs (default 2)' },
  },
  schema: z.object({ records: intFlag(1).default('20000'), rounds: intFlag(1).default('2') }).strict(),
  notes: ['Each variant writes into a fresh collection, dropped after it.'],
});

/** One way of writing: documents per chunk, slices of it sent at once, and how a slice is sent. */
interface Variant {
  name: string;
  chunk: number;
  slices: number;
  send: 'insertMany' | 'command';
}

const VARIANTS: Variant[] = [
  { name: 'insertMany, chunks of 1,000', chunk: 1000, slices: 1, send: 'insertMany' },
  { name: 'insertMany, 2 slices of 500 at once', chunk: 1000, slices: 2, send: 'insertMany' },
  { name: 'insertMany, 4 slices of 250 at once', chunk: 1000, slices: 4, send: 'insertMany' },
  { name: 'insertMany, chunks of 5,000', chunk: 5000, slices: 1, send: 'insertMany' },
  { name: 'insertMany, 2 slices of 2,500 at once', chunk: 5000, slices: 2, send: 'insertMany' },
  { name: 'insertMany of everything', chunk: Number.MAX_SAFE_INTEGER, slices: 1, send: 'insertMany' },
  { name: 'insert command, 2 slices of 500 at once (kept)', chunk: 1000, slices: 2, send: 'command' },
];

/** The sink's records for N synthetic quotes, decoded by the sink's own code. */
function goodRecords(n: number): GoodRecord<Quote>[] {
  const records = syntheticRecords(n, 7, (i) => ({ partition: i % 3, offset: Math.floor(i / 3) }));
  const event = parseEvent(JSON.parse(JSON.stringify(buildEvent('self-managed', '127.0.0.1:9092', records))));
  return eventRecords(event).map((r) => {
    const s = sortRecord(r, quoteType);
    if (s.kind !== 'record') throw new Error(`record ${r.offset} is not valid`);
    return s.record;
  });
}

async function sendSlice(db: Db, collection: string, docs: Document[], send: Variant['send']): Promise<void> {
  if (send === 'insertMany') await db.collection(collection).insertMany(docs, { ordered: false });
  else await db.command({ insert: collection, documents: docs, ordered: false });
}

/** Writes every record with `v` into a fresh collection; records/s and CPU ms per 1,000. */
async function run(db: Db, good: readonly GoodRecord<Quote>[], v: Variant): Promise<[number, number]> {
  const collection = `mongovariant_${Date.now().toString(36)}`;
  await db.collection(collection).insertOne({ _id: 'warm-up' } as Document);
  const at = new Date();
  global.gc?.();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < good.length; i += v.chunk) {
    const chunk = good.slice(i, i + v.chunk);
    const size = Math.ceil(chunk.length / v.slices);
    await Promise.all(
      Array.from({ length: v.slices }, (_, k) => {
        const docs = chunk.slice(k * size, (k + 1) * size).map((g) => toDocument(g, at));
        return sendSlice(db, collection, docs, v.send);
      }),
    );
  }
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  await db.collection(collection).drop();
  return [Math.round((good.length * 1000) / ms), (cpu.user + cpu.system) / good.length];
}

async function main(argv: string[]): Promise<void> {
  const { records, rounds } = parseCommand(MONGO_VARIANTS, argv);
  loadStackEnv();
  const config = loadConfig(process.env);
  const good = goodRecords(records);
  const client = await MongoClient.connect(config.MONGO_URL, { maxPoolSize: 4 });
  try {
    const db = client.db(config.MONGO_DATABASE);
    for (let round = 0; round < rounds; round++) {
      for (const v of VARIANTS) {
        const [perSecond, cpuPer1k] = await run(db, good, v);
        console.log(
          `${v.name.padEnd(48)} ${String(perSecond).padStart(6)} docs/s  cpu ${cpuPer1k.toFixed(1).padStart(5)} ms/1k`,
        );
      }
    }
  } finally {
    await client.close();
  }
}

if (require.main === module) runMain('mongo variants', main);
