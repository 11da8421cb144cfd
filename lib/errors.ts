/**
 * Typed errors. One root, {@link QuotesSinkError}, with native `cause` and a `retriable` flag (in
 * the manner of kafkajs's KafkaJSError); subclasses carry their context as fields and derive their
 * message from them.
 */
import { formatCoordinates, formatRanges, type Coordinates, type PartitionRange } from './event/coordinates';

export type { Coordinates } from './event/coordinates';
export { formatCoordinates } from './event/coordinates';

/** Options every error of this project accepts: the native cause, and whether a retry can help. */
export interface QuotesSinkErrorOptions extends ErrorOptions {
  retriable?: boolean;
}

/** The root of every error this project raises on purpose. */
export class QuotesSinkError extends Error {
  /** Whether doing the same again later can succeed (a store outage) or cannot (bad input). */
  readonly retriable: boolean;

  constructor(message: string, options: QuotesSinkErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.retriable = options.retriable ?? false;
  }
}

/** The event is not an MSK / self-managed Kafka event; nothing was written. */
export class InvalidEventError extends QuotesSinkError {
  constructor(readonly reason: string) {
    super(`invalid Kafka event: ${reason}`);
  }
}

/** Why one record could not be decoded or validated (it goes to the dead letters, the batch goes on). */
/**
 * `store`: a store refused this one record (the server's message says why); the rest was written.
 * `collision`: a different record is stored at the same coordinates (a re-created topic, another
 * cluster); the stored one is kept, and this one is not counted as present.
 */
/**
 * `forged`: the record carries an identity header that is not a valid signature of the project's
 * re-senders for its content; it is kept under its own identity, never stored as another's.
 */
export const RECORD_ERROR_KINDS = [
  'base64',
  'utf8',
  'json',
  'schema',
  'unstorable',
  'store',
  'collision',
  'forged',
] as const;
export type RecordErrorKind = (typeof RECORD_ERROR_KINDS)[number];

/** One record could not be decoded or validated. */
export class RecordError extends QuotesSinkError {
  constructor(
    readonly kind: RecordErrorKind,
    readonly coordinates: Coordinates,
    readonly detail: string,
  ) {
    super(`record ${formatCoordinates(coordinates)}: ${kind}: ${detail}`);
  }
}

/** The stores the sink writes to. */
export type StoreName = 'postgres' | 'mongo';

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
