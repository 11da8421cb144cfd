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

const ms = (t0: number) => Math.round((performance.now() - t0) * 100) / 100;

/** Processes one Lambda Kafka event. Throws InvalidEventError (nothing written) or a store error (retry). */
export async function processBatch<T>(input: unknown, type: RecordType<T>, stores: Stores, opts: BatchOptions): Promise<BatchSummary> {
  const tStart = performance.now();
  const event = parseEvent(input);
  const all = eventRecords(event);

  const seen = new Set<string>();
  const partitions: Record<string, PartitionRange> = {};
  const good: GoodRecord<T>[] = [];
  const dead: DeadLetter[] = [];
  const tombstones: RecordMeta[] = [];
  let duplicateInEvent = 0;

  for (const r of all) {
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
    } else if (d.kind === 'error') {
      dead.push({ meta: d.meta, valueBase64: d.valueBase64, error: d.error });
    } else {
      const v = validateRecord(type, d.value, d.meta.coordinates);
      if (v.ok) good.push({ meta: d.meta, payload: d.value, value: v.value });
      else dead.push({ meta: d.meta, valueBase64: d.valueBase64, error: v.error });
    }
  }
  const ingestedAt = new Date();
  const rows = good.map((g) => toRow(type, g));
  const deadRows = dead.map(toDeadLetterRow);
  const docs: { _id: string; doc: Document }[] = good.map((g) => ({ _id: documentId(g.meta), doc: toDocument(type, g, ingestedAt) }));
  const decodeMs = ms(tStart);

  // Only an error needs the batch's description: build it then, off the hot path.
  const label = () => describeBatch([...good, ...dead].map((x) => x.meta));
  const timed = async <R>(store: 'postgres' | 'mongo', fn: () => Promise<R>): Promise<{ value: R; ms: number }> => {
    const t0 = performance.now();
    try {
      return { value: await fn(), ms: ms(t0) };
    } catch (e) {
      throw e instanceof StoreWriteError ? e : new StoreWriteError(store, label(), e);
    }
  };

  const pgWrite = timed('postgres', () => stores.postgres.write(rows, deadRows));
  const mongoWrite = opts.failAfterPostgres
    ? pgWrite.then(() => {
        throw new StoreWriteError('mongo', label(), new Error('fault injected after the Postgres write (SINK_FAULT_AFTER_POSTGRES)'));
      })
    : timed('mongo', () => stores.mongo.write(docs));
  const [pgRes, mongoRes] = await Promise.allSettled([pgWrite, mongoWrite]);
  const failures = [pgRes, mongoRes].filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as StoreWriteError);
  if (failures.length === 1) throw failures[0];
  if (failures.length > 1) throw new BatchWriteError(failures);
  const pgOut = (pgRes as PromiseFulfilledResult<{ value: { written: number; deadLettered: number }; ms: number }>).value;
  const mongoOut = (mongoRes as PromiseFulfilledResult<{ value: { written: number; duplicates: number }; ms: number }>).value;

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

  const byKind: Record<string, number> = {};
  for (const d of dead) byKind[d.error.kind] = (byKind[d.error.kind] ?? 0) + 1;

  return {
    eventSource: event.eventSource,
    received: all.length,
    duplicateInEvent,
    valid: good.length,
    postgres: { written: pgOut.value.written, alreadyPresent: good.length - pgOut.value.written },
    mongo: { written: mongoOut.value.written, alreadyPresent: mongoOut.value.duplicates },
    deadLettered: { written: pgOut.value.deadLettered, alreadyPresent: dead.length - pgOut.value.deadLettered, byKind },
    tombstones: { received: tombstones.length, deleted },
    partitions,
    durationMs: { decode: decodeMs, postgres: pgOut.ms, mongo: mongoOut.ms, total: ms(tStart) },
  };
}

