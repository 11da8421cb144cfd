/**
 * Writing one prepared chunk to every store at once, with a typed outcome instead of a rejection.
 * A record a store refuses for its content is dead-lettered (kind `store`) and taken out of the
 * stores that accepted it, so it ends in exactly one place.
 */
import { performance } from 'node:perf_hooks';
import { BatchWriteError, StoreWriteError } from './errors';
import { RecordError } from '../event/errors';
import type { RecordMeta } from '../event/decode';
import type { DeadLetter, GoodRecord } from './model';
import type { RecordWriteCount, StoreName, Stores, WriteCount } from './port';
import type { PreparedChunk } from './prepare';

/** One store's part of a chunk write. */
export interface StoreWrite {
  store: StoreName;
  /** Records, or dead letters. */
  of: 'records' | 'deadLetters';
  count: WriteCount;
  ms: number;
}

/** A chunk's writes, with the records a store refused (now dead letters); or the store failures. */
export type ChunkOutcome =
  | { ok: true; writes: StoreWrite[]; refused: DeadLetter[]; superseded?: number; stored: RecordMeta[] }
  | { ok: false; error: StoreWriteError | BatchWriteError };

const round2 = (x: number) => Math.round(x * 100) / 100;

async function timed<C extends WriteCount>(
  store: StoreName,
  chunk: PreparedChunk<unknown>,
  write: () => Promise<C>,
): Promise<{ store: StoreName; count: C; ms: number }> {
  const t0 = performance.now();
  try {
    return { store, count: await write(), ms: round2(performance.now() - t0) };
  } catch (e) {
    throw e instanceof StoreWriteError
      ? e
      : new StoreWriteError({ store, partitions: chunk.partitions, chunk: chunk.bounds }, e);
  }
}

/** The fulfilled values, or the failures as one error. */
function collect<V>(
  settled: PromiseSettledResult<V>[],
): { ok: true; values: V[] } | { ok: false; error: StoreWriteError | BatchWriteError } {
  const failures: StoreWriteError[] = [];
  for (const r of settled) {
    if (r.status === 'fulfilled') continue;
    // timed() wraps every store failure; anything else is a bug, and must not pass for a success.
    if (!(r.reason instanceof StoreWriteError)) throw r.reason;
    failures.push(r.reason);
  }
  if (failures.length === 1) return { ok: false, error: failures[0] };
  if (failures.length > 1) return { ok: false, error: new BatchWriteError(failures) };
  return { ok: true, values: settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : [])) };
}

/** The records any store refused, as dead letters of kind `store` naming the store and its message. */
function refusals<T>(
  chunk: PreparedChunk<T>,
  writes: { store: StoreName; count: RecordWriteCount }[],
): Map<number, DeadLetter> {
  const refused = new Map<number, DeadLetter>();
  for (const { store, count } of writes) {
    for (const { index, reason, kind = 'store' } of count.rejected ?? []) {
      if (refused.has(index)) continue;
      const g: GoodRecord<T> = chunk.records[index];
      const detail = kind === 'collision' ? `${store}: ${reason}` : `${store} refused the record: ${reason}`;
      const error = new RecordError(kind, g.meta.coordinates, detail);
      refused.set(index, { meta: g.meta, valueBase64: g.valueBase64, error });
    }
  }
  return refused;
}

/** The positions each record store refused (or found another record at). */
const refusedByStore = (writes: { store: StoreName; count: RecordWriteCount }[]): Map<StoreName, Set<number>> =>
  new Map(writes.map((w) => [w.store, new Set((w.count.rejected ?? []).map((r) => r.index))]));

/**
 * Dead-letters refused records and deletes them from the record stores that did not refuse them
 * (a store that refused one, or holds another record at its coordinates, has no copy of it to
 * remove); returns what each store removed.
 */
async function compensate<T>(
  stores: Stores<T>,
  chunk: PreparedChunk<T>,
  refused: Map<number, DeadLetter>,
  refusedBy: Map<StoreName, Set<number>>,
) {
  const d = stores.deadLetters;
  const removals = stores.records.map((s) => {
    const records = [...refused.keys()].filter((i) => !refusedBy.get(s.name)?.has(i)).map((i) => chunk.records[i]);
    return timed(s.name, chunk, async () => ({ written: -(await s.deleteRecords(records)), alreadyPresent: 0 }));
  });
  const deadWrite = timed(d.name, chunk, () => d.write([...refused.values()]));
  return collect(await Promise.allSettled([...removals, deadWrite]));
}

/**
 * Takes out of the chunk the re-sent records a tombstone applied earlier supersedes (a redrive of
 * a failure older than the tombstone of its key): they are not stored; returns how many.
 */
async function dropSuperseded<T>(stores: Stores<T>, chunk: PreparedChunk<T>): Promise<number> {
  const lookup = stores.deadLetters.superseded?.bind(stores.deadLetters);
  if (!lookup) return 0;
  const resent: number[] = [];
  for (let i = 0; i < chunk.records.length; i++) if (chunk.records[i].meta.resent) resent.push(i);
  if (resent.length === 0) return 0;
  const gone = await lookup(resent.map((i) => chunk.records[i].meta));
  if (gone.size === 0) return 0;
  const drop = new Set([...gone].map((n) => resent[n]));
  chunk.records = chunk.records.filter((_, i) => !drop.has(i));
  return drop.size;
}

/** Writes the chunk's records to every record store and its dead letters, concurrently. Never rejects. */
export async function writeChunk<T>(
  stores: Stores<T>,
  chunk: PreparedChunk<T>,
  ingestedAt: Date,
): Promise<ChunkOutcome> {
  let superseded: number;
  try {
    superseded = await dropSuperseded(stores, chunk);
  } catch (e) {
    return {
      ok: false,
      error: new StoreWriteError(
        { store: stores.deadLetters.name, partitions: chunk.partitions, chunk: chunk.bounds },
        e,
      ),
    };
  }
  const outcome = await writeRecords(stores, chunk, ingestedAt);
  return outcome.ok ? { ...outcome, superseded } : outcome;
}

/**
 * Takes a failed chunk's records out of the record stores that wrote them (the copies this write
 * made, never an earlier write's), so the retry or redrive finds the chunk in no store: a record
 * another store then refuses ends in its dead letter alone, not also in one store. Best effort:
 * the batch fails with the store's error either way.
 */
async function undoPartial<T>(
  stores: Stores<T>,
  chunk: PreparedChunk<T>,
  recordWrites: PromiseSettledResult<unknown>[],
): Promise<void> {
  if (recordWrites.every((w) => w.status === 'fulfilled')) return;
  const wrote = stores.records.filter((_, i) => recordWrites[i].status === 'fulfilled');
  await Promise.all(wrote.map((s) => s.deleteRecords(chunk.records).catch(() => 0)));
}

async function writeRecords<T>(stores: Stores<T>, chunk: PreparedChunk<T>, ingestedAt: Date): Promise<ChunkOutcome> {
  const d = stores.deadLetters;
  const recordWrites = stores.records.map((s) => timed(s.name, chunk, () => s.write(chunk.records, ingestedAt)));
  const deadWrite = chunk.deadLetters.length > 0 ? [timed(d.name, chunk, () => d.write(chunk.deadLetters))] : [];
  const settled = await Promise.allSettled([...recordWrites, ...deadWrite]);
  const first = collect(settled);
  if (!first.ok) {
    await undoPartial(stores, chunk, settled.slice(0, recordWrites.length));
    return first;
  }
  const records = first.values.slice(0, recordWrites.length);
  const writes: StoreWrite[] = first.values.map((w, i) => ({
    ...w,
    of: i < recordWrites.length ? 'records' : 'deadLetters',
  }));
  const refused = refusals(chunk, records);
  if (refused.size === 0) return { ok: true, writes, refused: [], stored: chunk.records.map((g) => g.meta) };
  const fixed = await compensate(stores, chunk, refused, refusedByStore(records));
  if (!fixed.ok) return fixed;
  // Removals count as negative writes, so a store's total says what it holds.
  fixed.values.forEach((w, i) => writes.push({ ...w, of: i < stores.records.length ? 'records' : 'deadLetters' }));
  const stored: RecordMeta[] = [];
  for (let i = 0; i < chunk.records.length; i++) if (!refused.has(i)) stored.push(chunk.records[i].meta);
  return { ok: true, writes, refused: [...refused.values()], stored };
}
