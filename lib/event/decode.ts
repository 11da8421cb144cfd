/** Pure decoding of one event record: base64 → bytes → UTF-8 → JSON, and headers. No I/O. */
import { IDENTITY_HEADER, NO_CLUSTER, type ClusterKey, type Coordinates } from './coordinates';
import { isUtf8 } from 'node:buffer';
import { RecordError } from './errors';
import { fingerprint, isResendHeader, verifyIdentity, type Fingerprint } from './identity';
import type { KafkaEventHeaders, KafkaEventRecord, StoredHeader } from './types';

export type { StoredHeader } from './types';

/** The parts every decoded record keeps, whatever became of its value. */
export interface RecordMeta {
  /** The key of the cluster the record came from (see lib/event/coordinates.ts `clusterKey`). */
  cluster: ClusterKey;
  coordinates: Coordinates;
  /** The original Kafka timestamp: a re-sent copy's is the one its carried identity gives. */
  timestamp: number;
  /** What makes two copies the same record (lib/event/identity.ts). */
  fingerprint: Fingerprint;
  /** Re-sent by a replay or a redrive (its identity is the one it carried): it may be older than a tombstone. */
  resent?: true;
  timestampType: string;
  /** The key as text when it is clean UTF-8, else undefined (see keyBase64). */
  keyText?: string;
  /** The raw key, base64 as received; undefined when the record has no key. */
  keyBase64?: string;
  headers: StoredHeader[];
}

export type DecodedRecord =
  | { kind: 'value'; meta: RecordMeta; value: unknown; valueBase64: string; text: string }
  | { kind: 'tombstone'; meta: RecordMeta }
  | { kind: 'error'; meta: RecordMeta; error: RecordError; valueBase64?: string };

/** Text that PostgreSQL text/jsonb and MongoDB can both hold: well-formed, no NUL. */
export function isStorableText(s: string): boolean {
  return !s.includes('\u0000') && s.isWellFormed();
}

/**
 * Strict UTF-8 decode; undefined when the bytes are not UTF-8. A leading byte-order mark is kept
 * (it is part of the bytes, and a copy without it is another record); JSON parsing skips it.
 */
export function decodeUtf8(bytes: Uint8Array): string | undefined {
  if (!isUtf8(bytes)) return undefined;
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return buf.toString('utf8');
}

/** `text` without a leading byte-order mark, which JSON.parse refuses. */
const withoutBom = (text: string): string => (text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);

/** Java's signed bytes (-128..127) to bytes: `b & 0xff`. */
export function signedBytesToBuffer(bytes: number[]): Buffer {
  return Buffer.from(bytes.map((b) => b & 0xff));
}

/** Bytes that are all printable-range ASCII (no NUL), as text; undefined otherwise. The usual header, decoded with no Buffer. */
function asciiText(bytes: readonly number[]): string | undefined {
  const n = bytes.length;
  if (n > 1024) return undefined;
  for (let i = 0; i < n; i++) if (bytes[i] < 1 || bytes[i] > 127) return undefined;
  return String.fromCharCode.apply(null, bytes as number[]);
}

/** One header as stored: its value's text when its bytes are storable UTF-8, else its base64. */
function headerValue(name: string, bytes: number[]): StoredHeader {
  const ascii = asciiText(bytes);
  if (ascii !== undefined) return { name, value: ascii };
  const buf = signedBytesToBuffer(bytes);
  const text = decodeUtf8(buf);
  return text !== undefined && isStorableText(text)
    ? { name, value: text }
    : { name, valueBase64: buf.toString('base64') };
}

/** Header values to text where they are UTF-8, else base64; names that cannot be stored are base64-tagged. */
export function decodeHeaders(headers: KafkaEventHeaders | undefined): StoredHeader[] {
  const out: StoredHeader[] = [];
  if (headers === undefined) return out;
  for (let i = 0; i < headers.length; i++) {
    const h = headers[i];
    for (const rawName in h) {
      if (isStorableText(rawName)) out.push(headerValue(rawName, h[rawName]));
      else {
        const shown = rawName.toWellFormed().replaceAll('\u0000', '\ufffd');
        out.push({ ...headerValue(shown, h[rawName]), nameBase64: Buffer.from(rawName, 'utf8').toString('base64') });
      }
    }
  }
  return out;
}

/**
 * Nesting a value may have. MongoDB allows 100 levels per document, and the sink nests the
 * payload two levels down; deeper values also overflow the BSON serialiser's stack.
 */
export const MAX_DEPTH = 90;

/**
 * Field names a value may have in all. A record with 200,000 keys made FerretDB's insert run into
 * the timeout, which failed its batch on every retry; a record type with more fields than this is
 * not what this sink is for.
 */
export const MAX_FIELDS = 10_000;

/**
 * Earliest and latest instants the stores keep: years 1 to 9999, what ISO 8601 text without an
 * expanded year spells (PostgreSQL refuses `+010000-…` and year 0), and what both a JS Date and
 * timestamptz hold.
 */
export const TIMESTAMP_RANGE = {
  min: Date.parse('0001-01-01T00:00:00.000Z'),
  max: Date.parse('9999-12-31T23:59:59.999Z'),
} as const;

/** Whether `ms` is an instant both stores can keep. */
export const isStorableTimestamp = (ms: number): boolean =>
  Number.isFinite(ms) && ms >= TIMESTAMP_RANGE.min && ms <= TIMESTAMP_RANGE.max;

function keyProblem(k: string, path: string, textsStorable: boolean): string | undefined {
  if (!textsStorable && !isStorableText(k))
    return `a field name in ${path} holds a NUL character or a lone UTF-16 surrogate`;
  if (k.startsWith('$') || k.includes('.'))
    return `field name ${JSON.stringify(k)} in ${path} starts with "$" or holds "." (not a MongoDB field name)`;
  return undefined;
}

function leafProblem(v: unknown, path: string, textsStorable: boolean): string | undefined {
  if (typeof v === 'string' && !textsStorable && !isStorableText(v))
    return `${path} holds a NUL character or a lone UTF-16 surrogate`;
  if (typeof v === 'number' && !Number.isFinite(v)) return `${path} is a number beyond double precision (${String(v)})`;
  return undefined;
}

/**
 * Why a parsed JSON value cannot be stored as is, or undefined when it can: strings well-formed
 * without NUL (Postgres text/jsonb), numbers finite, field names without a leading `$` or a `.`
 * (MongoDB), nesting at most {@link MAX_DEPTH}, at most {@link MAX_FIELDS} field names. Iterative,
 * so no value can overflow the stack. `textsStorable`: every string and name is known to be
 * storable (parsed from UTF-8 text without a `\u` escape, the only source of NUL and lone surrogates).
 */
export function unstorableReason(value: unknown, textsStorable = false): string | undefined {
  const stack: [unknown, string, number][] = [[value, '(value)', 0]];
  let fields = 0;
  for (let item = stack.pop(); item; item = stack.pop()) {
    const [v, path, depth] = item;
    if (v === null || typeof v !== 'object') {
      const p = leafProblem(v, path, textsStorable);
      if (p) return p;
      continue;
    }
    if (depth >= MAX_DEPTH) return `${path} is nested more than ${MAX_DEPTH} levels deep`;
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], `${path}[${i}]`, depth + 1]);
      continue;
    }
    fields += Object.keys(v).length;
    if (fields > MAX_FIELDS) return `the value has more than ${MAX_FIELDS} field names`;
    for (const [k, x] of Object.entries(v)) {
      const p = keyProblem(k, path, textsStorable);
      if (p) return p;
      stack.push([x, k, depth + 1]);
    }
  }
  return undefined;
}

/**
 * Short keys decoded lately (Kafka keys repeat: records are partitioned by them). Bounded by
 * {@link KEYS_KEPT} entries of at most {@link KEY_KEPT_CHARS} characters; emptied when full.
 */
const keyTexts = new Map<string, string | undefined>();
const KEYS_KEPT = 1_000;
const KEY_KEPT_CHARS = 64;

/** The key as text when it is clean UTF-8, else undefined (the base64 stays authoritative). */
function keyTextOf(keyBase64: string | undefined): string | undefined {
  if (keyBase64 === undefined) return undefined;
  const known = keyTexts.get(keyBase64);
  if (known !== undefined || keyTexts.has(keyBase64)) return known;
  const t = decodeUtf8(Buffer.from(keyBase64, 'base64'));
  const text = t !== undefined && isStorableText(t) ? t : undefined;
  if (keyBase64.length <= KEY_KEPT_CHARS) {
    if (keyTexts.size >= KEYS_KEPT) keyTexts.clear();
    keyTexts.set(keyBase64, text);
  }
  return text;
}

/** What decoding needs besides the record: the event's cluster key, and the key re-senders sign with. */
export interface DecodeContext {
  cluster: ClusterKey;
  /** SINK_IDENTITY_KEY; without it, no carried identity is accepted. */
  identityKey?: string;
}

/** The default context: no cluster (tests and tools that decode one record), no key. */
export const NO_CONTEXT: DecodeContext = { cluster: NO_CLUSTER };

/** A record's meta, and why its carried identity was refused (it is then stored as it came, as `forged`). */
interface MetaOutcome {
  meta: RecordMeta;
  forged?: string;
}

/**
 * The parts of a record every outcome keeps. A record re-sent by a dead-letter replay or a redrive
 * carries a signed identity: when it verifies, the record keeps the identity, original timestamp
 * and headers of the record it re-sends, so a copy sent twice is stored once; when it does not,
 * the record keeps its own and is refused.
 */
function metaOf(r: KafkaEventRecord, context: DecodeContext): MetaOutcome {
  const keyBase64 = r.key ?? undefined;
  const headers = decodeHeaders(r.headers);
  // One object literal of one shape for every record: spreads cost more than the digest.
  const meta: RecordMeta = {
    cluster: context.cluster,
    coordinates: { topic: r.topic, partition: r.partition, offset: r.offset },
    timestamp: r.timestamp,
    timestampType: r.timestampType,
    keyText: keyTextOf(keyBase64),
    keyBase64,
    headers,
    fingerprint: '',
  };
  const carried = headers.length === 0 ? undefined : carriedHeader(headers);
  if (carried === undefined) {
    meta.fingerprint = fingerprint({ timestamp: r.timestamp, keyBase64, valueBase64: r.value, headers });
    return { meta };
  }
  const content = { keyBase64, valueBase64: r.value, headers };
  const verified = verifyIdentity(carried.value ?? '', context.identityKey, content);
  if (!verified.ok) {
    meta.fingerprint = fingerprint({ ...content, timestamp: r.timestamp });
    return { meta, forged: verified.reason };
  }
  const { identity } = verified;
  meta.cluster = identity.cluster;
  meta.coordinates = identity.coordinates;
  meta.timestamp = identity.timestamp;
  meta.headers = headers.filter((h) => !isResendHeader(h));
  meta.fingerprint = identity.fingerprint;
  meta.resent = true;
  return { meta };
}

/** The identity header among `headers`, if there is one (by its plain name). */
function carriedHeader(headers: readonly StoredHeader[]): StoredHeader | undefined {
  for (let i = 0; i < headers.length; i++) {
    const h = headers[i];
    if (h.name === IDENTITY_HEADER && h.nameBase64 === undefined) return h;
  }
  return undefined;
}

/** The value's text and parsed JSON, or why it has none: [kind, detail]. */
function parseValue(
  timestamp: number,
  valueBase64: string,
): { text: string; value: unknown } | [RecordError['kind'], string] {
  if (!isStorableTimestamp(timestamp))
    return ['unstorable', `timestamp ${timestamp} is outside what the stores can hold`];
  const bytes = Buffer.from(valueBase64, 'base64');
  if (bytes.length === 0) return ['json', 'the value is empty'];
  const text = decodeUtf8(bytes);
  if (text === undefined) return ['utf8', 'the value is not valid UTF-8'];
  let value: unknown;
  try {
    value = JSON.parse(withoutBom(text));
  } catch (e) {
    return ['json', `the value is not JSON (${(e as Error).message})`];
  }
  // Strict UTF-8 decodes to no lone surrogate, and JSON holds a NUL only as an escape.
  const unstorable = unstorableReason(value, !text.includes('\\u'));
  return unstorable ? ['unstorable', unstorable] : { text, value };
}

/** Decodes one record. Never throws for bad content: that comes back as `kind: 'error'`. */
export function decodeRecord(r: KafkaEventRecord, context: DecodeContext = NO_CONTEXT): DecodedRecord {
  const { meta, forged } = metaOf(r, context);
  const valueBase64 = r.value ?? undefined;
  if (forged !== undefined)
    return { kind: 'error', meta, valueBase64, error: new RecordError('forged', meta.coordinates, forged) };
  if (valueBase64 === undefined) return { kind: 'tombstone', meta };
  const parsed = parseValue(r.timestamp, valueBase64);
  if (Array.isArray(parsed)) {
    return { kind: 'error', meta, valueBase64, error: new RecordError(parsed[0], meta.coordinates, parsed[1]) };
  }
  return { kind: 'value', meta, value: parsed.value, valueBase64, text: parsed.text };
}
