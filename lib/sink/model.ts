/** What the sink writes: the records it prepared, and pure mappings to Mongo documents. */
import type { RecordMeta } from '../event/decode';
import { storedId } from '../event/coordinates';
import type { RecordError } from '../event/errors';
import { compactHeaders, type StoredKey, type ValueParts } from './value-parts';

/** A decoded, validated record ready for the stores. */
export interface GoodRecord<T> {
  meta: RecordMeta;
  /** The value as received (unknown fields included), parsed. */
  payload: unknown;
  value: T;
  /** The raw value, base64 as received: what a dead letter keeps if a store refuses the record. */
  valueBase64: string;
  /** The raw value as text (it is UTF-8 JSON). */
  valueText: string;
  /** The value as the stores keep it: the type's fields, the others, and the raw text if needed (./value-parts.ts). */
  parts: ValueParts;
  /** The key as the stores keep it: text, or base64 when its text would not give its bytes back. */
  key: StoredKey;
  /** When the batch that writes it began (set by the batch; a compensation removes only its own copies). */
  ingestedAt?: Date;
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

/**
 * The latest Kafka timestamp (ms) of a record tombstone `t` supersedes, or null for any. A tombstone
 * supersedes the older records of its key in its partition: a lower offset. A re-sent one (a replay
 * of its dead letter) may come from an earlier incarnation of a topic deleted and re-created, whose
 * offsets the new topic reuses; it supersedes only records not produced after it (a timestamp up to
 * its original one), never the new topic's.
 */
export const supersedesUntil = (t: Tombstone): number | null => (t.meta.resent ? t.meta.timestamp : null);

/** What a document keeps of the Kafka record besides its value; the coordinates are in `_id`. */
export interface KafkaFields {
  /** The key's text; null when the record has no key; absent when the key is kept as `keyBase64`. */
  key?: string | null;
  keyBase64?: string;
  /** `{ name: text }`, or the decoded list when names repeat or a value is not text; absent when none. */
  headers?: Record<string, string> | RecordMeta['headers'];
  timestamp: Date;
  /** Absent for CREATE_TIME, the usual type. */
  timestampType?: string;
  /** The record's fingerprint (lib/event/identity.ts). */
  fp: string;
}

/** The `kafka` field of a record's document. */
export function kafkaFields(meta: RecordMeta, key: StoredKey): KafkaFields {
  const out: Partial<KafkaFields> = key.base64 !== undefined ? { keyBase64: key.base64 } : { key: key.text ?? null };
  const headers = compactHeaders(meta.headers);
  if (headers) out.headers = headers;
  out.timestamp = new Date(meta.timestamp);
  if (meta.timestampType !== 'CREATE_TIME') out.timestampType = meta.timestampType;
  out.fp = meta.fingerprint;
  return out as KafkaFields;
}

/**
 * The Mongo document of a record: `_id` is its identity (cluster key and coordinates, e.g.
 * `q7Xc2a9LkP:quotes-0-42`), then the type's own fields once, the value's other fields (`extra`) or
 * its raw text (`raw`, when the parts would not rebuild it), the Kafka key, headers and timestamp.
 */
export function toDocument<T>(r: GoodRecord<T>, ingestedAt: Date): { _id: string } & Record<string, unknown> {
  const { fields, extra, raw } = r.parts;
  const doc: { _id: string } & Record<string, unknown> = { _id: storedId(r.meta.cluster, r.meta.coordinates) };
  for (const f of Object.keys(fields)) doc[f] = fields[f];
  if (extra) doc.extra = extra;
  if (raw !== undefined) doc.raw = raw;
  doc.kafka = kafkaFields(r.meta, r.key);
  doc.ingestedAt = ingestedAt;
  return doc;
}
