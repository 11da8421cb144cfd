/** What the sink writes: pure mappings from decoded records to rows, documents and dead letters. */
import type { RecordMeta } from '../event/decode';
import { formatCoordinates, type Coordinates, type RecordError } from '../errors';
import type { RecordType } from '../records/record-type';

/** A decoded, validated record ready for both stores. */
export interface GoodRecord<T> {
  meta: RecordMeta;
  /** The value as received (unknown fields included): the payload column/field. */
  payload: unknown;
  value: T;
}

/** A record that could not be decoded or validated. */
export interface DeadLetter {
  meta: RecordMeta;
  valueBase64?: string;
  error: RecordError;
}

/** The Mongo `_id` of a record: its coordinates, e.g. `quotes-0-42`. */
export const documentId = (m: RecordMeta) => `${m.coordinates.topic}-${m.coordinates.partition}-${m.coordinates.offset}`;

/** One element of the JSON array that json_to_recordset turns into rows of the records table. */
export function toRow<T>(type: RecordType<T>, r: GoodRecord<T>): Record<string, unknown> {
  const row: Record<string, unknown> = {
    topic: r.meta.coordinates.topic,
    partition: r.meta.coordinates.partition,
    offset: r.meta.coordinates.offset,
    kafka_key: r.meta.keyText ?? null,
    kafka_key_base64: r.meta.keyBase64 ?? null,
    headers: r.meta.headers,
    kafka_timestamp: new Date(r.meta.timestamp).toISOString(),
    timestamp_type: r.meta.timestampType,
    payload: r.payload,
  };
  for (const c of type.columns) row[c.name] = c.from(r.value);
  return row;
}

/** The Mongo document (without `_id`, which is the filter of the upsert). */
export function toDocument<T>(type: RecordType<T>, r: GoodRecord<T>, ingestedAt: Date): Record<string, unknown> {
  return {
    ...type.toDocument(r.value),
    payload: r.payload,
    kafka: {
      topic: r.meta.coordinates.topic,
      partition: r.meta.coordinates.partition,
      offset: r.meta.coordinates.offset,
      key: r.meta.keyText ?? null,
      keyBase64: r.meta.keyBase64 ?? null,
      headers: r.meta.headers,
      timestamp: new Date(r.meta.timestamp),
      timestampType: r.meta.timestampType,
    },
    ingestedAt,
  };
}

/** One element of the JSON array that becomes dead_letters rows. */
export function toDeadLetterRow(d: DeadLetter): Record<string, unknown> {
  return {
    topic: d.meta.coordinates.topic,
    partition: d.meta.coordinates.partition,
    offset: d.meta.coordinates.offset,
    kafka_key_base64: d.meta.keyBase64 ?? null,
    value_base64: d.valueBase64 ?? null,
    headers: d.meta.headers,
    kafka_timestamp: new Date(d.meta.timestamp).toISOString(),
    error_kind: d.error.kind,
    error: d.error.detail,
  };
}

/** `quotes-0@10..42` style label of what a batch covers, for errors. */
export function describeBatch(metas: readonly { coordinates: Coordinates }[]): string {
  if (metas.length === 0) return 'an empty batch';
  const parts = new Map<string, { first: number; last: number }>();
  for (const { coordinates: c } of metas) {
    const k = `${c.topic}-${c.partition}`;
    const p = parts.get(k);
    if (!p) parts.set(k, { first: c.offset, last: c.offset });
    else {
      p.first = Math.min(p.first, c.offset);
      p.last = Math.max(p.last, c.offset);
    }
  }
  if (metas.length === 1) return `record ${formatCoordinates(metas[0].coordinates)}`;
  return `batch ${[...parts].map(([k, p]) => `${k}@${p.first}..${p.last}`).join(', ')}`;
}
