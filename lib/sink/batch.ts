/**
 * One batch, end to end: parse → prepare a chunk (decode, validate) → write it to every store →
 * summary. The handler, the benchmark and the tests call this; it knows nothing of Lambda, and its
 * stores are whatever implements the ports in ./port.ts.
 */
import { performance } from 'node:perf_hooks';
import { setImmediate as turn } from 'node:timers/promises';
import { eventClusterKey, partitionKey, type PartitionRange } from '../event/coordinates';
import type { KafkaEvent, KafkaEventRecord } from '../event/types';
import { QuotesSinkError } from '../errors';
import type { BatchWriteError, ChunkBounds, StoreWriteError } from './errors';
import { eventRecords, parseEvent } from '../event/parse';
import { STORE_NAMES } from '../config';
import type { RecordType } from '../records/record-type';
import type { Tombstone } from './model';
import type { StoreName, Stores, WriteCount } from './port';
import {
  BatchAccumulator,
  chunkBounds,
  prepareChunk,
  type PrepareContext,
  type PreparedChunk,
  type Screen,
} from './prepare';
import { writeChunk, type ChunkOutcome } from './write';

export type { PartitionRange } from '../event/coordinates';
export type { Stores } from './port';

export interface BatchOptions {
  tombstones: 'skip' | 'delete';
  /** Throw {@link IncompleteBatchError} (with `batchItemFailures`) when a chunk fails after earlier ones were written. */
  partialResponse?: boolean;
  /** Records per write (written by each store at once); default DEFAULT_WRITE_CHUNK. */
  writeChunk?: number;
  /** SINK_IDENTITY_KEY: what re-senders sign carried identities with; without it none is accepted. */
  identityKey?: string;
  /** SINK_CLUSTER_ID: the cluster's stable id, which wins over the event's naming of it. */
  clusterId?: string;
}

/** The structured report of one batch: returned by the handler and logged as one JSON line. */
export interface BatchSummary {
  eventSource: string;
  received: number;
  /** Records whose coordinates appeared earlier in the same event (counted once). */
  duplicateInEvent: number;
  valid: number;
  /** Each record store's counts by its name: the built-in ones first (zero when unused), then any other. */
  stores: Record<StoreName, WriteCount>;
  deadLettered: { written: number; alreadyPresent: number; byKind: Record<string, number> };
  tombstones: { received: number; deleted: number };
  /** Re-sent records older than a tombstone of their key applied earlier: not stored. */
  superseded: number;
  /** Conditions an operator should know of (a topic whose cluster key changed); absent when none. */
  warnings?: string[];
  partitions: Record<string, PartitionRange>;
  /** `stores`: time in each store's writes by its name, the dead-letter store's included. */
  durationMs: { decode: number; stores: Record<StoreName, number>; total: number };
}

/** One entry of a partial batch response: the first record of a partition that must be retried. */
export interface BatchItemFailure {
  itemIdentifier: { 'topic-partition': string; offset: number };
}

/**
 * A chunk failed after earlier chunks were written: `batchItemFailures` names, per partition, the
 * first record not known to be written, so the mapping retries from there and not from the start.
 */
export class IncompleteBatchError extends QuotesSinkError {
  constructor(
    readonly batchItemFailures: BatchItemFailure[],
    cause: StoreWriteError | BatchWriteError,
  ) {
    super(`batch incomplete, retrying from ${batchItemFailures.length} partition(s): ${cause.message}`, {
      cause,
      retriable: true,
    });
  }
}

/** The first offset of each partition among records [from, …) of the event. */
export function firstUnwritten(all: readonly KafkaEventRecord[], from: number): BatchItemFailure[] {
  const first = new Map<string, number>();
  for (let i = from; i < all.length; i++) {
    const k = partitionKey(all[i]);
    const o = first.get(k);
    if (o === undefined || all[i].offset < o) first.set(k, all[i].offset);
  }
  return [...first].map(([k, offset]) => ({ itemIdentifier: { 'topic-partition': k, offset } }));
}

/** Records decoded, validated and mapped per write: bounds the memory a large batch needs. */
export const DEFAULT_WRITE_CHUNK = 500;

/**
 * Chunks being written at once. Two: while one is written the next is prepared and sent, so
 * decoding overlaps the stores' work and each store has two statements to work on.
 */
export const CHUNKS_IN_FLIGHT = 2;

const round2 = (x: number) => Math.round(x * 100) / 100;

/** A chunk being written, and where it starts in the event. */
interface InFlight {
  bounds: ChunkBounds;
  outcome: Promise<ChunkOutcome>;
  /** The chunk's tombstones: applied once the chunk, and every chunk before it, is written. */
  tombstones: Tombstone[];
}

/**
 * Adds a settled chunk to the totals, or throws its store error (the batch must be retried): as an
 * {@link IncompleteBatchError} when partial responses are on and an earlier chunk was written.
 */
async function settle(
  acc: BatchAccumulator,
  chunk: InFlight,
  all: readonly KafkaEventRecord[],
  partial: boolean,
): Promise<void> {
  const outcome = await chunk.outcome;
  if (!outcome.ok) {
    if (partial && chunk.bounds.from > 0)
      throw new IncompleteBatchError(firstUnwritten(all, chunk.bounds.from), outcome.error);
    throw outcome.error;
  }
  acc.addRefused(outcome.refused);
  acc.superseded += outcome.superseded ?? 0;
  acc.valid -= outcome.superseded ?? 0;
  acc.tombstones.push(...chunk.tombstones);
  for (const m of outcome.stored) acc.stored.push(m);
  for (const w of outcome.writes) {
    if (w.of === 'records') acc.addWrite(w.store, w.count, w.ms);
    else acc.addDeadLetterWrite(w.count, w.ms, w.store);
  }
}

/**
 * Deletes, in each record store, what the batch's keyed tombstones supersede (one statement per
 * store), and marks the dead letters they supersede, which a replay then leaves.
 */
async function deleteTombstones<T>(stores: Stores<T>, acc: BatchAccumulator): Promise<number> {
  if (acc.tombstones.length === 0) return 0;
  const dead = stores.deadLetters.supersede?.(acc.tombstones) ?? Promise.resolve(0);
  const [deleted] = await Promise.all([Promise.all(stores.records.map((s) => s.deleteByKey(acc.tombstones))), dead]);
  return Math.max(0, ...deleted);
}

/**
 * What the written chunks settle: the tombstones' deletes (TOMBSTONES=delete), and the dead
 * letters of refused records the batch has now stored. Both for the chunks written before a
 * failed one too, as a retry starts after them (partial responses).
 */
async function afterWrites<T>(stores: Stores<T>, acc: BatchAccumulator, opts: BatchOptions): Promise<number> {
  const marking = acc.stored.length > 0 ? stores.deadLetters.markStored?.(acc.stored) : undefined;
  const [deleted] = await Promise.all([opts.tombstones === 'delete' ? deleteTombstones(stores, acc) : 0, marking]);
  return deleted;
}

/**
 * One line per topic of the event whose records came from another cluster key before: unless the
 * cluster really changed, its broker list was edited without SINK_CLUSTER_ID, and every record
 * read again is stored again.
 */
async function clusterWarnings<T>(
  stores: Stores<T>,
  all: readonly KafkaEventRecord[],
  cluster: string,
): Promise<string[]> {
  const note = stores.deadLetters.otherClusters?.bind(stores.deadLetters);
  if (!note || all.length === 0) return [];
  const topics = [...new Set(all.map((r) => r.topic))];
  // Advisory: a store that cannot answer (a role without the table) does not fail a written batch.
  const others = await Promise.all(topics.map((t) => note(t, cluster).catch(() => [])));
  return topics.flatMap((t, i) =>
    others[i].length === 0
      ? []
      : [
          `topic ${t}: records now come from cluster key ${cluster}, earlier ones from ${others[i].join(', ')}; if it is the same cluster, set SINK_CLUSTER_ID (its records are stored again under the new key)`,
        ],
  );
}

function summarise(
  acc: BatchAccumulator,
  records: readonly StoreName[],
  eventSource: string,
  received: number,
  deleted: number,
  t0: number,
): BatchSummary {
  const store = (name: StoreName) => acc.stores[name] ?? { written: 0, alreadyPresent: 0, ms: 0 };
  // The built-in stores are always reported (zero when unused, as dashboards expect), then the others.
  const counted = [...new Set([...STORE_NAMES, ...records])];
  const names = [...new Set([...counted, ...Object.keys(acc.stores)])];
  return {
    eventSource,
    received,
    duplicateInEvent: acc.duplicateInEvent,
    valid: acc.valid,
    stores: Object.fromEntries(
      counted.map((n) => [n, { written: store(n).written, alreadyPresent: store(n).alreadyPresent }]),
    ),
    deadLettered: { ...acc.deadLetterWrites, byKind: acc.deadByKind },
    tombstones: { received: acc.tombstones.length, deleted },
    superseded: acc.superseded,
    partitions: acc.partitions.toJSON(),
    durationMs: {
      decode: round2(acc.decodeMs),
      stores: Object.fromEntries(names.map((n) => [n, round2(store(n).ms)])),
      total: round2(performance.now() - t0),
    },
  };
}

/** Prepares one chunk of the event (pure): how a batch turns records into rows and dead letters. */
export type ChunkPreparer<T> = (
  all: readonly KafkaEventRecord[],
  bounds: ChunkBounds,
  acc: BatchAccumulator,
  screens: readonly Screen<T>[],
  context: PrepareContext,
) => PreparedChunk<T>;

/**
 * Processes one Lambda Kafka event. Throws InvalidEventError (nothing written) or a
 * StoreWriteError / BatchWriteError (the batch must be retried; writes are idempotent).
 *
 * A batch is written in chunks of `opts.writeChunk` records, every store concurrently. Each chunk
 * is sent as soon as it is prepared, and the next one is prepared while it is written; at most
 * {@link CHUNKS_IN_FLIGHT} are in flight, so a 10,000-record batch never holds all of its rows and
 * documents at once. Chunks are settled in order: a failed chunk stops the batch once the chunk
 * sent after it has finished too (nothing is left writing behind the error); chunks written before
 * it stay written.
 */
export async function processBatch<T>(
  input: unknown,
  type: RecordType<T>,
  stores: Stores<T>,
  opts: BatchOptions,
): Promise<BatchSummary> {
  return processEvent(parseEvent(input), typePreparer(type), stores, opts);
}

/** The preparer of a record type: decode, validate against it, screen (lib/sink/prepare.ts). */
export const typePreparer =
  <T>(type: RecordType<T>): ChunkPreparer<T> =>
  (all, bounds, acc, screens, context) =>
    prepareChunk(all, bounds, type, acc, screens, context);

/** {@link processBatch} of an event already checked by parseEvent, its chunks made by `prepare`. */
export async function processEvent<T>(
  event: KafkaEvent,
  prepare: ChunkPreparer<T>,
  stores: Stores<T>,
  opts: BatchOptions,
): Promise<BatchSummary> {
  const t0 = performance.now();
  const all = eventRecords(event);
  const acc = new BatchAccumulator();
  const ingestedAt = new Date();
  const screens = stores.records.flatMap((s) => (s.screen ? [s.screen.bind(s)] : []));
  const context = { cluster: eventClusterKey(event, opts.clusterId), identityKey: opts.identityKey, ingestedAt };
  const partial = opts.partialResponse ?? false;
  const inFlight: InFlight[] = [];
  const settleFirst = async () => {
    try {
      await settle(acc, inFlight[0], all, partial);
      inFlight.shift();
    } catch (e) {
      await Promise.all(inFlight.map((c) => c.outcome));
      // The retry starts after the chunks written: what they settle is due now, or never.
      if (e instanceof IncompleteBatchError) await afterWrites(stores, acc, opts);
      throw e;
    }
  };
  const chunks = [...chunkBounds(all.length, opts.writeChunk ?? DEFAULT_WRITE_CHUNK)];
  for (const [i, bounds] of chunks.entries()) {
    const tPrepare = performance.now();
    const chunk: PreparedChunk<T> = prepare(all, bounds, acc, screens, context);
    acc.decodeMs += performance.now() - tPrepare;
    if (inFlight.length === CHUNKS_IN_FLIGHT) await settleFirst();
    inFlight.push({ bounds, outcome: writeChunk(stores, chunk, ingestedAt), tombstones: chunk.tombstones });
    // Preparing the next chunk is synchronous: without a turn of the event loop first, this
    // chunk's statements would not leave until it is done, and nothing would overlap.
    if (i < chunks.length - 1) await turn();
  }
  while (inFlight.length > 0) await settleFirst();
  const deleted = await afterWrites(stores, acc, opts);
  const summary = summarise(
    acc,
    stores.records.map((s) => s.name),
    event.eventSource,
    all.length,
    deleted,
    t0,
  );
  const warnings = await clusterWarnings(stores, all, context.cluster);
  return warnings.length > 0 ? { ...summary, warnings } : summary;
}
