/** What the sink writes: the records it prepared, and pure mappings to Mongo documents. */
import type { RecordMeta } from '../event/decode';
import { storedId } from '../event/coordinates';
import type { RecordError } from '../errors';
import type { RecordType } from '../records/record-type';

/** A decoded, validated record ready for both stores. */
export interface GoodRecord<T> {
  meta: RecordMeta;
  /** The value as received (unknown fields included): the payload column/field. */
  payload: unknown;
  value: T;
  /** The raw value, base64 as received: what a dead letter keeps if a store refuses the record. */
  valueBase64: string;
  /** The raw value as text (it is UTF-8 JSON): kept byte for byte, and parsed losslessly by Postgres. */
  valueText: string;
}

/** A record that could not be decoded or validated. */
export interface DeadLetter {
  meta: RecordMeta;
  valueBase64?: string;
  error: RecordError;
}

/** A record with a null value (a Kafka tombstone). */
export interface Tombstone {
  meta: RecordMeta;
}

/** The Mongo document of a record; `_id` is its identity, e.g. `q7Xc2a9LkP:quotes-0-42` (cluster key, coordinates). */
export function toDocument<T>(
  type: RecordType<T>,
  r: GoodRecord<T>,
  ingestedAt: Date,
): { _id: string } & Record<string, unknown> {
  return {
    _id: storedId(r.meta.cluster, r.meta.coordinates),
    ...type.toDocument(r.value),
    payload: r.payload,
    kafka: {
      cluster: r.meta.cluster,
      topic: r.meta.coordinates.topic,
      partition: r.meta.coordinates.partition,
      offset: r.meta.coordinates.offset,
      key: r.meta.keyText ?? null,
      keyBase64: r.meta.keyBase64 ?? null,
      headers: r.meta.headers,
      timestamp: new Date(r.meta.timestamp),
      timestampType: r.meta.timestampType,
    },
    raw: r.valueText,
    ingestedAt,
  };
}
