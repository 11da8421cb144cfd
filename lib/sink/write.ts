/** Writing one prepared chunk to every store at once, with a typed outcome instead of a rejection. */
import { performance } from 'node:perf_hooks';
import { BatchWriteError, StoreWriteError, type StoreName } from '../errors';
import type { Stores, WriteCount } from './port';
import type { PreparedChunk } from './prepare';

/** One store's part of a chunk write. */
export interface StoreWrite {
  store: StoreName;
  /** Records, or the chunk's dead letters. */
  of: 'records' | 'deadLetters';
  count: WriteCount;
  ms: number;
}

/** A chunk's writes: every store succeeded, or the failures (each a {@link StoreWriteError}). */
export type ChunkOutcome = { ok: true; writes: StoreWrite[] } | { ok: false; error: StoreWriteError | BatchWriteError };

const round2 = (x: number) => Math.round(x * 100) / 100;

async function timedWrite(
  store: StoreName,
  of: StoreWrite['of'],
  chunk: PreparedChunk<unknown>,
  write: () => Promise<WriteCount>,
): Promise<StoreWrite> {
  const t0 = performance.now();
  try {
    return { store, of, count: await write(), ms: round2(performance.now() - t0) };
  } catch (e) {
    throw e instanceof StoreWriteError ? e : new StoreWriteError({ store, partitions: chunk.partitions, chunk: chunk.bounds }, e);
  }
}

/** Writes the chunk's records to every record store and its dead letters, concurrently. Never rejects. */
export async function writeChunk<T>(stores: Stores<T>, chunk: PreparedChunk<T>, ingestedAt: Date): Promise<ChunkOutcome> {
  const writes = stores.records.map((s) => timedWrite(s.name, 'records', chunk, () => s.write(chunk.records, ingestedAt)));
  if (chunk.deadLetters.length > 0) {
    const d = stores.deadLetters;
    writes.push(timedWrite(d.name, 'deadLetters', chunk, () => d.write(chunk.deadLetters)));
  }
  const settled = await Promise.allSettled(writes);
  const failures = settled.flatMap((r) => (r.status === 'rejected' ? [r.reason as StoreWriteError] : []));
  if (failures.length === 1) return { ok: false, error: failures[0] };
  if (failures.length > 1) return { ok: false, error: new BatchWriteError(failures) };
  return { ok: true, writes: settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : [])) };
}
