/**
 * The read side of the stores: what the UI (and anything else that looks rather than writes) may
 * ask of them. Adapters live beside the write adapters (lib/postgres/inspect.ts,
 * lib/mongo/inspect.ts) and take the same injected clients, so no caller writes SQL or Mongo
 * filters of its own.
 */
import { fingerprint } from '../event/identity';
import { formatIdentity, recordId, type ClusterKey, type Coordinates } from '../event/coordinates';
import type { StoredHeader } from '../event/decode';
import type { StoreName } from './port';
import { QuotesSinkError } from '../errors';
import { typeFields, type RecordType } from '../records/record-type';
import type { GoodRecord } from './model';
import { keyBase64Of, splitValue, storedKey } from './value-parts';

/** A record as one store holds it: the parts both stores keep, and the row or document itself. */
export interface StoredRecord {
  store: StoreName;
  /** The cluster key of the record's identity ('' for records stored before identities had one). */
  cluster: ClusterKey;
  coordinates: Coordinates;
  keyText: string | null;
  keyBase64: string | null;
  headers: StoredHeader[];
  /** The value as received (unknown fields included). */
  payload: unknown;
  /** The raw value's text: as kept, or rebuilt from the stored parts; null for records stored before either. */
  rawValue: string | null;
  timestamp: Date;
  timestampType: string;
  ingestedAt: Date;
  /** The row or document as stored, for display. */
  raw: Record<string, unknown>;
}

/** A record's full identity as a store holds it: its cluster key and its coordinates. */
export interface StoredIdentity {
  /** '' for records stored before identities had a cluster. */
  cluster: ClusterKey;
  coordinates: Coordinates;
  /** The copy's content fingerprint (lib/event/identity.ts); absent in an identity only to look up. */
  fingerprint?: string;
}

/** `<cluster key>/<topic>/<partition>/<offset>` ({@link formatIdentity}): an identity as a map key. */
export const identityKey = (i: StoredIdentity): string => formatIdentity(i.cluster, i.coordinates);

/** A dead letter with its raw bytes, as the dead-letter table keeps it. */
export interface DeadLetterRecord {
  coordinates: Coordinates;
  keyBase64: string | null;
  valueBase64: string | null;
  headers: StoredHeader[];
  errorKind: string;
  error: string;
  failedAt: Date;
  replayedAt: Date | null;
  /** When a later write stored the record (a store had refused it); null until then. */
  storedAt: Date | null;
}

/** One partition's offsets from `from` to `to`, both included. */
export interface OffsetRange {
  topic: string;
  partition: number;
  from: number;
  to: number;
}

/** The widest {@link OffsetRange} one query may cover: keeps a check's memory and time bounded. */
export const MAX_RANGE_OFFSETS = 100_000;

/** Throws unless `r` is a sane range of at most {@link MAX_RANGE_OFFSETS} offsets. */
export function checkRange(r: OffsetRange): void {
  const ok = Number.isSafeInteger(r.from) && Number.isSafeInteger(r.to) && r.from >= 0 && r.to >= r.from;
  if (!ok) throw new QuotesSinkError(`offset range ${r.from}..${r.to} is not a range of offsets`);
  if (r.to - r.from + 1 > MAX_RANGE_OFFSETS) {
    throw new QuotesSinkError(`offset range ${r.from}..${r.to} is wider than ${MAX_RANGE_OFFSETS} offsets`);
  }
}

/** The read side of a record store (Postgres table or Mongo collection). */
export interface RecordInspector {
  readonly name: StoreName;
  /**
   * The stored records among `coordinates`, keyed by record id (`recordId`, whatever the cluster:
   * where several clusters stored the same coordinates, the latest ingested).
   */
  find(coordinates: readonly Coordinates[]): Promise<Map<string, StoredRecord>>;
  /**
   * The stored records of exactly these identities (cluster included), keyed by
   * {@link identityKey}; an identity not stored is absent from the map.
   */
  get(identities: readonly StoredIdentity[]): Promise<Map<string, StoredRecord>>;
  /** How many records are stored, of `topic` or of every topic. */
  count(topic?: string): Promise<number>;
  /**
   * The identities stored in `range`, by offset then cluster: several where several clusters
   * stored records at one offset.
   */
  identitiesIn(range: OffsetRange): Promise<StoredIdentity[]>;
}

/** Orders identities by offset, then cluster key (what {@link RecordInspector.identitiesIn} returns). */
export const byOffsetThenCluster = (a: StoredIdentity, b: StoredIdentity): number =>
  a.coordinates.offset - b.coordinates.offset || (a.cluster < b.cluster ? -1 : a.cluster > b.cluster ? 1 : 0);

/** What a dead-letter list may be narrowed to. */
export interface DeadLetterFilter {
  topic?: string;
  kind?: string;
  /** Failed at or after. */
  since?: Date;
  /** Failed before. */
  until?: Date;
  includeReplayed?: boolean;
  limit?: number;
}

/** The read side of the dead-letter table. Replay stays with tools/replay/dead-letters.ts. */
export interface DeadLetterInspector {
  /** The dead letters among `coordinates`, keyed by record id. */
  find(coordinates: readonly Coordinates[]): Promise<Map<string, DeadLetterRecord>>;
  /** Newest first. */
  list(filter: DeadLetterFilter): Promise<DeadLetterRecord[]>;
  /** Dead letters by error kind, of `topic` or of every topic. */
  countByKind(topic?: string): Promise<Record<string, number>>;
  /** The offsets of `range` that were dead-lettered, ascending. */
  offsetsIn(range: OffsetRange): Promise<number[]>;
}

/** Thrown when a stored payload no longer passes its record type's schema (it cannot be rewritten). */
export class StoredPayloadError extends QuotesSinkError {
  constructor(
    readonly coordinates: Coordinates,
    detail: string,
  ) {
    super(
      `stored payload of ${coordinates.topic}/${coordinates.partition}/${coordinates.offset} fails the schema: ${detail}`,
    );
  }
}

/**
 * The record a store's copy stands for, ready for a record store's `write`: how a store missing a
 * record is repaired from the other. The value is validated again; the raw value is the stored
 * raw text, or the payload re-serialised where the store has no raw text.
 */
export function toGoodRecord<T>(type: RecordType<T>, s: StoredRecord): GoodRecord<T> {
  const parsed = type.schema.safeParse(s.payload);
  if (!parsed.success)
    throw new StoredPayloadError(s.coordinates, parsed.error.issues.map((i) => i.message).join('; '));
  const valueText = s.rawValue ?? JSON.stringify(s.payload);
  const keyText = s.keyText ?? undefined;
  const keyBase64 = s.keyBase64 ?? undefined;
  const valueBase64 = Buffer.from(valueText, 'utf8').toString('base64');
  const timestamp = s.timestamp.getTime();
  return {
    meta: {
      cluster: s.cluster,
      coordinates: s.coordinates,
      timestamp,
      timestampType: s.timestampType,
      keyText,
      keyBase64,
      headers: s.headers,
      // The copy's own fingerprint: the repaired copy is the same record.
      fingerprint: fingerprint({
        timestamp,
        keyBase64: keyBase64Of(s.keyText, s.keyBase64),
        valueBase64,
        headers: s.headers,
      }),
    },
    payload: s.payload,
    value: parsed.data,
    valueBase64,
    valueText,
    parts: splitValue(typeFields(type), s.payload, valueText),
    key: storedKey(keyText, keyBase64),
  };
}

/** Keys records by record id, the latest ingested winning (one record id, several clusters). */
export function byRecordId(records: Iterable<StoredRecord>): Map<string, StoredRecord> {
  const out = new Map<string, StoredRecord>();
  for (const r of records) {
    const id = recordId(r.coordinates);
    const prev = out.get(id);
    if (!prev || prev.ingestedAt < r.ingestedAt) out.set(id, r);
  }
  return out;
}

/**
 * The records among `records` that are of one of `identities`, keyed by {@link identityKey}: a
 * lookup by coordinates (which finds every cluster's copy) narrowed to the identities asked for.
 */
export function ofIdentities(
  records: Iterable<StoredRecord>,
  identities: readonly StoredIdentity[],
): Map<string, StoredRecord> {
  const wanted = new Set(identities.map(identityKey));
  const out = new Map<string, StoredRecord>();
  for (const r of records) {
    const key = identityKey(r);
    if (wanted.has(key)) out.set(key, r);
  }
  return out;
}
