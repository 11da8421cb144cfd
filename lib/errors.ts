/** Typed errors: each says what failed and, where it applies, for which Kafka record. */

/** Kafka coordinates: the identity of a record everywhere in this project. */
export interface Coordinates {
  topic: string;
  partition: number;
  offset: number;
}

/** `topic/partition/offset`, as errors and logs print it. */
export const formatCoordinates = (c: Coordinates) => `${c.topic}/${c.partition}/${c.offset}`;

/** The event is not an MSK / self-managed Kafka event; nothing was written. */
export class InvalidEventError extends Error {
  constructor(readonly reason: string) {
    super(`invalid Kafka event: ${reason}`);
    this.name = 'InvalidEventError';
  }
}

/** Why one record could not be decoded or validated (it goes to the dead letters, the batch goes on). */
export type RecordErrorKind = 'base64' | 'utf8' | 'json' | 'schema' | 'unstorable';

/** One record could not be decoded or validated. */
export class RecordError extends Error {
  constructor(
    readonly kind: RecordErrorKind,
    readonly coordinates: Coordinates,
    readonly detail: string,
  ) {
    super(`record ${formatCoordinates(coordinates)}: ${kind}: ${detail}`);
    this.name = 'RecordError';
  }
}

/** A store rejected or failed a batch write; the batch must be retried (writes are idempotent). */
export class StoreWriteError extends Error {
  constructor(
    readonly store: 'postgres' | 'mongo',
    readonly batch: string,
    override readonly cause: unknown,
  ) {
    super(`${store} write failed for ${batch}: ${(cause as Error)?.message ?? String(cause)}`);
    this.name = 'StoreWriteError';
  }
}

/** Several stores failed at once. */
export class BatchWriteError extends AggregateError {
  constructor(errors: StoreWriteError[]) {
    super(errors, errors.map((e) => e.message).join('; '));
    this.name = 'BatchWriteError';
  }
}
