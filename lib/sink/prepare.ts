/**
 * The pure steps of a batch: an accumulator for its counts and partition ranges, and the
 * preparation of one chunk (decode, validate, sort into records, dead letters and tombstones).
 */
import { PartitionRanges, partitionKey, type PartitionRange } from '../event/coordinates';
import { decodeHeaders, decodeRecord, NO_CONTEXT, type DecodeContext, type RecordMeta } from '../event/decode';
import { fingerprint } from '../event/identity';
import type { KafkaEventRecord } from '../event/types';
import { RecordError } from '../event/errors';
import type { ChunkBounds } from './errors';
import { typeFields, type RecordType } from '../records/record-type';
import { validateRecord } from '../records/validate';
import type { DeadLetter, GoodRecord, Tombstone } from './model';
import type { StoreName, WriteCount } from './port';
import { splitValue, storedKey } from './value-parts';

/** One chunk of the event, ready to write. */
export interface PreparedChunk<T> {
  bounds: ChunkBounds;
  /** Every record of the chunk (tombstones and in-event duplicates included), by partition. */
  partitions: Record<string, PartitionRange>;
  records: GoodRecord<T>[];
  deadLetters: DeadLetter[];
  tombstones: Tombstone[];
}

/** What one store's writes added up to over a batch, and how long they took. */
export interface StoreTotals extends WriteCount {
  ms: number;
}

/** Per-batch state: which records were seen, partition ranges, and counts by outcome. */
export class BatchAccumulator {
  readonly partitions = new PartitionRanges();
  /** Tombstones of the chunks written so far (added as each chunk settles). */
  readonly tombstones: Tombstone[] = [];
  readonly deadByKind: Record<string, number> = {};
  readonly stores: Partial<Record<StoreName, StoreTotals>> = {};
  readonly deadLetterWrites: WriteCount = { written: 0, alreadyPresent: 0 };
  duplicateInEvent = 0;
  valid = 0;
  /** Re-sent records a tombstone applied earlier supersedes (not stored). */
  superseded = 0;
  /** The records of the chunks settled so far that every record store holds. */
  readonly stored: RecordMeta[] = [];
  decodeMs = 0;
  /** The first meta seen by offset, by cluster and partition (the identity without its offset). */
  private readonly seen = new Map<string, Map<number, RecordMeta>>();
  private readonly deadSeen = new Map<string, Map<number, RecordMeta>>();
  private readonly tombstonesSeen = new Map<string, Map<number, RecordMeta>>();
  /** The partition last looked up: an event's records come partition by partition. */
  private last?: { meta: RecordMeta; offsets: Map<number, RecordMeta> };

  /**
   * Counts a record's identity: `first`, or `duplicate` when the same record (identity and
   * fingerprint) came earlier in the event (the same coordinates twice, two re-sent copies of one
   * record), or `collision` when another record with this identity did.
   */
  firstOf(meta: RecordMeta, kind: 'record' | 'dead' | 'tombstone' = 'record'): 'first' | 'duplicate' | 'collision' {
    // Dead letters are told apart by fingerprint in their store, and tombstones are stored nowhere:
    // neither takes a record's identity (in separate events they would not either).
    const offsets =
      kind === 'record'
        ? this.offsetsOf(meta)
        : kind === 'dead'
          ? // An original and a re-sent copy are both written: only the copy re-arms a replayed one.
            this.rareOffsetsOf(this.deadSeen, meta, meta.resent ? ':resent' : '')
          : this.rareOffsetsOf(this.tombstonesSeen, meta, '');
    const offset = meta.coordinates.offset;
    const seen = offsets.get(offset);
    if (seen === undefined) {
      offsets.set(offset, meta);
      return 'first';
    }
    if (seen.fingerprint !== meta.fingerprint) return 'collision';
    // The original and a re-sent copy in one event are written once: as the copy, so a store's
    // refusal of it re-arms its replayed dead letter, as the copy alone would.
    if (kind === 'record' && meta.resent) seen.resent = true;
    this.duplicateInEvent++;
    return 'duplicate';
  }

  /** The same as {@link offsetsOf} for the event's dead letters or tombstones (rare: no cache of the last one). */
  private rareOffsetsOf(
    seen: Map<string, Map<number, RecordMeta>>,
    meta: RecordMeta,
    suffix: string,
  ): Map<number, RecordMeta> {
    const key = `${meta.cluster}:${partitionKey(meta.coordinates)}${suffix}`;
    let offsets = seen.get(key);
    if (!offsets) seen.set(key, (offsets = new Map()));
    return offsets;
  }

  private offsetsOf(meta: RecordMeta): Map<number, RecordMeta> {
    const l = this.last;
    const c = meta.coordinates;
    if (
      l !== undefined &&
      l.meta.cluster === meta.cluster &&
      l.meta.coordinates.topic === c.topic &&
      l.meta.coordinates.partition === c.partition
    )
      return l.offsets;
    const key = `${meta.cluster}:${partitionKey(c)}`;
    let offsets = this.seen.get(key);
    if (!offsets) this.seen.set(key, (offsets = new Map()));
    this.last = { meta, offsets };
    return offsets;
  }

  /** Counts a chunk's outcome by kind (its writes are counted by {@link addWrite}). */
  addPrepared(chunk: PreparedChunk<unknown>): void {
    this.valid += chunk.records.length;
    for (const d of chunk.deadLetters) this.deadByKind[d.error.kind] = (this.deadByKind[d.error.kind] ?? 0) + 1;
  }

  /** Counts records a store refused: no longer valid, now dead letters. */
  addRefused(refused: readonly DeadLetter[]): void {
    this.valid -= refused.length;
    for (const d of refused) this.deadByKind[d.error.kind] = (this.deadByKind[d.error.kind] ?? 0) + 1;
  }

  /** Adds one store's write of one chunk. */
  addWrite(store: StoreName, count: WriteCount, ms: number): void {
    const t = (this.stores[store] ??= { written: 0, alreadyPresent: 0, ms: 0 });
    t.written += count.written;
    t.alreadyPresent += count.alreadyPresent;
    t.ms += ms;
  }

  /** Adds a chunk's dead-letter write. */
  addDeadLetterWrite(count: WriteCount, ms: number, store: StoreName): void {
    this.deadLetterWrites.written += count.written;
    this.deadLetterWrites.alreadyPresent += count.alreadyPresent;
    const t = (this.stores[store] ??= { written: 0, alreadyPresent: 0, ms: 0 });
    t.ms += ms;
  }
}

const FIELDS = new WeakMap<RecordType<unknown>, string[]>();

/** {@link typeFields}, once per record type. */
function fieldsOf<T>(type: RecordType<T>): string[] {
  let f = FIELDS.get(type as RecordType<unknown>);
  if (!f) FIELDS.set(type as RecordType<unknown>, (f = typeFields(type)));
  return f;
}

type Sorted<T> =
  | { kind: 'record'; record: GoodRecord<T> }
  | { kind: 'dead'; dead: DeadLetter }
  | { kind: 'tombstone'; tombstone: Tombstone };

/** Why a store cannot keep a record, checked before anything is written (see {@link RecordStore.screen}). */
export type Screen<T> = (record: GoodRecord<T>, valueBytes: number) => string | undefined;

const metaOf = <T>(s: Sorted<T>): RecordMeta =>
  s.kind === 'record' ? s.record.meta : s.kind === 'dead' ? s.dead.meta : s.tombstone.meta;

/** Decodes, validates and screens one record (pure). */
export function sortRecord<T>(
  r: KafkaEventRecord,
  type: RecordType<T>,
  screens: readonly Screen<T>[] = [],
  context: DecodeContext = NO_CONTEXT,
): Sorted<T> {
  const d = decodeRecord(r, context);
  if (d.kind === 'tombstone') return { kind: 'tombstone', tombstone: { meta: d.meta } };
  if (d.kind === 'error') return { kind: 'dead', dead: { meta: d.meta, valueBase64: d.valueBase64, error: d.error } };
  const v = validateRecord(type, d.value, d.meta.coordinates);
  if (!v.ok) return { kind: 'dead', dead: { meta: d.meta, valueBase64: d.valueBase64, error: v.error } };
  const parts = splitValue(fieldsOf(type), d.value, d.text);
  const key = storedKey(d.meta.keyText, d.meta.keyBase64);
  const record = {
    meta: d.meta,
    payload: d.value,
    value: v.value,
    valueBase64: d.valueBase64,
    valueText: d.text,
    parts,
    key,
  };
  const valueBytes = Buffer.byteLength(d.valueBase64, 'base64');
  for (const screen of screens) {
    const why = screen(record, valueBytes);
    if (why) return unstorable(d.meta, d.valueBase64, why);
  }
  return { kind: 'record', record };
}

/** A record dead-lettered as `unstorable`, with its meta as decoded (headers and carried identity kept). */
const unstorable = <T>(meta: RecordMeta, valueBase64: string | undefined, detail: string): Sorted<T> => ({
  kind: 'dead',
  dead: { meta, valueBase64, error: new RecordError('unstorable', meta.coordinates, detail) },
});

/**
 * The meta of a record whose preparation threw: as decoded if that works, else its own identity
 * and raw headers (nothing it carries can be trusted then).
 */
function fallbackMeta(r: KafkaEventRecord, context: DecodeContext): RecordMeta {
  try {
    return decodeRecord(r, context).meta;
  } catch {
    let headers: RecordMeta['headers'] = [];
    try {
      headers = decodeHeaders(r.headers);
    } catch {
      // Headers that cannot even be decoded: the raw value and key are still kept.
    }
    const keyBase64 = r.key ?? undefined;
    const valueBase64 = r.value ?? undefined;
    return {
      cluster: context.cluster,
      coordinates: { topic: r.topic, partition: r.partition, offset: r.offset },
      timestamp: r.timestamp,
      timestampType: r.timestampType,
      keyBase64,
      headers,
      fingerprint: fingerprint({ timestamp: r.timestamp, keyBase64, valueBase64, headers }),
    };
  }
}

/** {@link sortRecord}, except that an exception while preparing a record dead-letters that record alone. */
function sortSafely<T>(
  r: KafkaEventRecord,
  type: RecordType<T>,
  screens: readonly Screen<T>[],
  context: DecodeContext,
): Sorted<T> {
  try {
    return sortRecord(r, type, screens, context);
  } catch (e) {
    const detail = `could not be prepared: ${e instanceof Error ? e.message : String(e)}`;
    return unstorable(fallbackMeta(r, context), r.value ?? undefined, detail);
  }
}

/** A record whose identity another record of the event has: dead-lettered as a collision, never dropped. */
function inEventCollision<T>(s: Sorted<T>): DeadLetter {
  const meta = metaOf(s);
  const valueBase64 = s.kind === 'record' ? s.record.valueBase64 : s.kind === 'dead' ? s.dead.valueBase64 : undefined;
  const detail = 'another record with this identity came earlier in the same event';
  return { meta, valueBase64, error: new RecordError('collision', meta.coordinates, detail) };
}

/** What preparing a chunk needs besides its records: decoding's context, and the batch's time. */
export interface PrepareContext extends DecodeContext {
  ingestedAt?: Date;
}

/** Prepares records [from, to) of `all` (no I/O); in-event duplicates are counted and left out. */
export function prepareChunk<T>(
  all: readonly KafkaEventRecord[],
  bounds: ChunkBounds,
  type: RecordType<T>,
  acc: BatchAccumulator,
  screens: readonly Screen<T>[] = [],
  context: PrepareContext = NO_CONTEXT,
): PreparedChunk<T> {
  const chunk: PreparedChunk<T> = { bounds, partitions: {}, records: [], deadLetters: [], tombstones: [] };
  const ranges = new PartitionRanges();
  for (let i = bounds.from; i < bounds.to; i++) {
    const r = all[i];
    ranges.add(r);
    acc.partitions.add(r);
    const s = sortSafely(r, type, screens, context);
    const seen = acc.firstOf(metaOf(s), s.kind);
    if (seen === 'duplicate') continue;
    if (seen === 'collision' && s.kind !== 'dead') chunk.deadLetters.push(inEventCollision(s));
    else if (s.kind === 'record') {
      if (context.ingestedAt) s.record.ingestedAt = context.ingestedAt;
      chunk.records.push(s.record);
    } else if (s.kind === 'dead') chunk.deadLetters.push(s.dead);
    else chunk.tombstones.push(s.tombstone);
  }
  chunk.partitions = ranges.toJSON();
  acc.addPrepared(chunk);
  return chunk;
}

/**
 * Prepares records [from, to) of a topic no route takes (no I/O): each one, tombstones and values
 * that do not decode included, is a dead letter of kind `route` with its raw value, under its
 * identity as decoded (`detail` says why). In-event duplicates are counted and left out.
 */
export function prepareUnrouted(
  all: readonly KafkaEventRecord[],
  bounds: ChunkBounds,
  acc: BatchAccumulator,
  context: PrepareContext,
  detail: (topic: string) => string,
): PreparedChunk<never> {
  const chunk: PreparedChunk<never> = { bounds, partitions: {}, records: [], deadLetters: [], tombstones: [] };
  const ranges = new PartitionRanges();
  for (let i = bounds.from; i < bounds.to; i++) {
    const r = all[i];
    ranges.add(r);
    acc.partitions.add(r);
    const meta = fallbackMeta(r, context);
    if (acc.firstOf(meta, 'dead') === 'duplicate') continue;
    const error = new RecordError('route', meta.coordinates, detail(r.topic));
    chunk.deadLetters.push({ meta, valueBase64: r.value ?? undefined, error });
  }
  chunk.partitions = ranges.toJSON();
  acc.addPrepared(chunk);
  return chunk;
}

/** The chunks of an event of `n` records: [0, size), [size, 2·size), … */
export function* chunkBounds(n: number, size: number): Generator<ChunkBounds> {
  const step = Math.max(1, size);
  for (let from = 0; from < n; from += step) yield { from, to: Math.min(n, from + step) };
}
