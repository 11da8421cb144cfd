/** The errors of reading an event: the event as a whole, or one record of it. */
import { QuotesSinkError } from '../errors';
import { formatCoordinates, type Coordinates } from './coordinates';

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
 * `route`: no route of the sink file takes the record's topic (a mapping the sink file does not
 * route); kept as received, whatever its value.
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
  'route',
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
