/**
 * One batch, end to end: decode → validate → write both stores concurrently → summary.
 * The handler and the benchmark call this; it knows nothing of Lambda.
 */
import { performance } from 'node:perf_hooks';
import type { Document } from 'mongodb';
import { decodeRecord, type RecordMeta } from '../event/decode';
import { eventRecords, parseEvent } from '../event/parse';
import { BatchWriteError, StoreWriteError } from '../errors';
import type { RecordType } from '../records/record-type';
import { validateRecord } from '../records/validate';
import { describeBatch, documentId, toDeadLetterRow, toDocument, toRow, type DeadLetter, type GoodRecord } from './model';
import type { MongoStore } from './mongo';
import type { PostgresStore } from './postgres';

export interface Stores {
  postgres: Pick<PostgresStore, 'write' | 'deleteByKey'>;
  mongo: Pick<MongoStore, 'write' | 'deleteByKey'>;
}

export interface BatchOptions {
  tombstones: 'skip' | 'delete';
  /** Test-only fault injection: throw after the Postgres write, before Mongo's. */
  failAfterPostgres?: boolean;
  /** Records per write (one Postgres statement and one Mongo bulkWrite); default DEFAULT_WRITE_CHUNK. */
  writeChunk?: number;
}

export interface PartitionRange {
  first: number;
  last: number;
  count: number;
}

/** The structured report of one batch: returned by the handler and logged as one JSON line. */
export interface BatchSummary {
  eventSource: string;
  received: number;
  /** Records whose coordinates appeared earlier in the same event (counted once). */
  duplicateInEvent: number;
  valid: number;
  postgres: { written: number; alreadyPresent: number };
  mongo: { written: number; alreadyPresent: number };
  deadLettered: { written: number; alreadyPresent: number; byKind: Record<string, number> };
  tombstones: { received: number; deleted: number };
  partitions: Record<string, PartitionRange>;
  durationMs: { decode: number; postgres: number; mongo: number; total: number };
}

const round2 = (x: number) => Math.round(x * 100) / 100;
const ms = (t0: number) => round2(performance.now() - t0);

/** Records decoded, validated and mapped per write: bounds the memory a large batch needs. */
export const DEFAULT_WRITE_CHUNK = 1_000;

interface Chunk {
  rows: Record<string, unknown>[];
  deadRows: Record<string, unknown>[];
  docs: { _id: string; doc: Document }[];
}

interface Timed<R> {
  value: R;
  ms: number;
}

interface ChunkOutcome {
  pg: PromiseSettledResult<Timed<{ written: number; deadLettered: number }>>;
  mongo: PromiseSettledResult<Timed<{ written: number; duplicates: number }>>;
}

/**
 * Processes one Lambda Kafka event. Throws InvalidEventError (nothing written) or a store error (retry).
 *
 * A batch is written in chunks of `opts.writeChunk` records (one Postgres statement and one Mongo
 * bulkWrite each, both stores concurrently). The next chunk is decoded while the previous one is
 * being written, and at most one chunk is in flight, so a 10,000-record batch never holds all of its
 * rows, documents and their serialised forms at once. A batch no larger than a chunk is one round
 * trip per store.
 */
export async function processBatch<T>(input: unknown, type: RecordType<T>, stores: Stores, opts: BatchOptions): Promise<BatchSummary> {
  const tStart = performance.now();
  const event = parseEvent(input);
  const all = eventRecords(event);
  const chunkSize = Math.max(1, opts.writeChunk ?? DEFAULT_WRITE_CHUNK);

  const seen = new Set<string>();
  const partitions: Record<string, PartitionRange> = {};
  const tombstones: RecordMeta[] = [];
  const byKind: Record<string, number> = {};
  let duplicateInEvent = 0;
  let valid = 0;
  let deadCount = 0;
  const ingestedAt = new Date();

  // Only an error needs the batch's description: build it then, off the hot path.
  const label = () => describeBatch(all.filter((r) => r.value !== null && r.value !== undefined).map((r) => ({ coordinates: { topic: r.topic, partition: r.partition, offset: r.offset } })));
  const timed = async <R>(store: 'postgres' | 'mongo', fn: () => Promise<R>): Promise<Timed<R>> => {
    const t0 = performance.now();
    try {
      return { value: await fn(), ms: ms(t0) };
    } catch (e) {
      throw e instanceof StoreWriteError ? e : new StoreWriteError(store, label(), e);
    }
  };

  /** Decodes, validates and maps records [from, to) of the event (pure CPU, no I/O). */
  const prepare = (from: number, to: number): Chunk => {
    const good: GoodRecord<T>[] = [];
    const dead: DeadLetter[] = [];
    for (let i = from; i < to; i++) {
      const r = all[i];
      const id = `${r.topic}-${r.partition}-${r.offset}`;
      const pk = `${r.topic}-${r.partition}`;
      const p = (partitions[pk] ??= { first: r.offset, last: r.offset, count: 0 });
      p.first = Math.min(p.first, r.offset);
      p.last = Math.max(p.last, r.offset);
      p.count++;
      if (seen.has(id)) {
        duplicateInEvent++;
        continue;
      }
      seen.add(id);
      const d = decodeRecord(r);
      if (d.kind === 'tombstone') {
        tombstones.push(d.meta);
        continue;
      }
      if (d.kind === 'error') {
        dead.push({ meta: d.meta, valueBase64: d.valueBase64, error: d.error });
      } else {
        const v = validateRecord(type, d.value, d.meta.coordinates);
        if (v.ok) good.push({ meta: d.meta, payload: d.value, value: v.value });
        else dead.push({ meta: d.meta, valueBase64: d.valueBase64, error: v.error });
      }
    }
    valid += good.length;
    deadCount += dead.length;
    for (const d of dead) byKind[d.error.kind] = (byKind[d.error.kind] ?? 0) + 1;
    return {
      rows: good.map((g) => toRow(type, g)),
      deadRows: dead.map(toDeadLetterRow),
      docs: good.map((g) => ({ _id: documentId(g.meta), doc: toDocument(type, g, ingestedAt) })),
    };
  };

  /** Writes one chunk to both stores concurrently; never rejects (outcomes are settled). */
  const write = (c: Chunk): Promise<ChunkOutcome> => {
    const pgWrite = timed('postgres', () => stores.postgres.write(c.rows, c.deadRows));
    const mongoWrite = opts.failAfterPostgres
      ? pgWrite.then((): never => {
          throw new StoreWriteError('mongo', label(), new Error('fault injected after the Postgres write (SINK_FAULT_AFTER_POSTGRES)'));
        })
      : timed('mongo', () => stores.mongo.write(c.docs));
    return Promise.allSettled([pgWrite, mongoWrite]).then(([pg, mongo]) => ({ pg, mongo }));
  };

  const totals = { pgWritten: 0, deadWritten: 0, mongoWritten: 0, mongoDuplicates: 0, pgMs: 0, mongoMs: 0, decodeMs: 0 };
  const settle = ({ pg, mongo }: ChunkOutcome) => {
    if (pg.status === 'rejected' || mongo.status === 'rejected') {
      const failures = [pg, mongo].flatMap((r) => (r.status === 'rejected' ? [r.reason as StoreWriteError] : []));
      throw failures.length === 1 ? failures[0] : new BatchWriteError(failures);
    }
    totals.pgWritten += pg.value.value.written;
    totals.deadWritten += pg.value.value.deadLettered;
    totals.mongoWritten += mongo.value.value.written;
    totals.mongoDuplicates += mongo.value.value.duplicates;
    totals.pgMs += pg.value.ms;
    totals.mongoMs += mongo.value.ms;
  };

  let inFlight: Promise<ChunkOutcome> | undefined;
  for (let from = 0; from === 0 || from < all.length; from += chunkSize) {
    const t0 = performance.now();
    const chunk = prepare(from, Math.min(all.length, from + chunkSize));
    totals.decodeMs += performance.now() - t0;
    // One chunk in flight: wait for the previous one before sending this one.
    if (inFlight) settle(await inFlight);
    inFlight = write(chunk);
  }
  if (inFlight) settle(await inFlight);

  let deleted = 0;
  if (opts.tombstones === 'delete') {
    for (const t of tombstones.filter((x) => x.keyBase64 !== undefined)) {
      const c = t.coordinates;
      const [a, b] = await Promise.all([
        stores.postgres.deleteByKey(c.topic, t.keyBase64 as string, c.offset),
        stores.mongo.deleteByKey(c.topic, t.keyBase64 as string, c.offset),
      ]);
      deleted += Math.max(a, b);
    }
  }

  return {
    eventSource: event.eventSource,
    received: all.length,
    duplicateInEvent,
    valid,
    postgres: { written: totals.pgWritten, alreadyPresent: valid - totals.pgWritten },
    mongo: { written: totals.mongoWritten, alreadyPresent: totals.mongoDuplicates },
    deadLettered: { written: totals.deadWritten, alreadyPresent: deadCount - totals.deadWritten, byKind },
    tombstones: { received: tombstones.length, deleted },
    partitions,
    durationMs: { decode: round2(totals.decodeMs), postgres: round2(totals.pgMs), mongo: round2(totals.mongoMs), total: ms(tStart) },
  };
}

