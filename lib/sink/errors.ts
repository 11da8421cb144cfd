/** The errors of writing a batch to the stores. */
import { formatRanges, type PartitionRange } from '../event/coordinates';
import { QuotesSinkError } from '../errors';
import type { StoreName } from './port';

/** Records [from, to) of the event: the chunk a failed write was carrying. */
export interface ChunkBounds {
  from: number;
  to: number;
}

/** What a store write was carrying when it failed. */
export interface StoreWriteContext {
  store: StoreName;
  /** The failed chunk's records, by partition. */
  partitions: Record<string, PartitionRange>;
  chunk: ChunkBounds;
  /** Defaults to true: a store failure is an infrastructure failure, and writes are idempotent. */
  retriable?: boolean;
}

const causeMessage = (cause: unknown) => (cause instanceof Error ? cause.message : String(cause));

/** A store rejected or failed a chunk write; the batch must be retried (writes are idempotent). */
export class StoreWriteError extends QuotesSinkError {
  readonly store: StoreName;
  readonly partitions: Record<string, PartitionRange>;
  readonly chunk: ChunkBounds;

  constructor(context: StoreWriteContext, cause: unknown) {
    const what = Object.keys(context.partitions).length ? formatRanges(context.partitions) : 'no records';
    super(
      `${context.store} write failed for records ${context.chunk.from}..${context.chunk.to - 1} of the event (${what}): ${causeMessage(cause)}`,
      {
        cause,
        retriable: context.retriable ?? true,
      },
    );
    this.store = context.store;
    this.partitions = context.partitions;
    this.chunk = context.chunk;
  }
}

/** Several stores failed at once; `errors` holds each store's failure. */
export class BatchWriteError extends QuotesSinkError {
  constructor(readonly errors: StoreWriteError[]) {
    super(errors.map((e) => e.message).join('; '), { retriable: errors.every((e) => e.retriable) });
  }
}
