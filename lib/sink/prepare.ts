/**
 * The pure steps of a batch: an accumulator for its counts and partition ranges, and the
 * preparation of one chunk (decode, validate, sort into records, dead letters and tombstones).
 */
import {
  LEGACY_CLUSTER,
  PartitionRanges,
  partitionKey,
  type ClusterKey,
  type PartitionRange,
} from '../event/coordinates';
import { decodeRecord, type RecordMeta } from '../event/decode';
import type { KafkaEventRecord } from '../event/types';
import { RecordError, type ChunkBounds, type StoreName } from '../errors';
import { typeFields, type RecordType } from '../records/record-type';
import { validateRecord } from '../records/validate';
import type { DeadLetter, GoodRecord, Tombstone } from './model';
import type { WriteCount } from './port';
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
  readonly tombstones: Tombstone[] = [];
  readonly deadByKind: Record<string, number> = {};
  readonly stores: Partial<Record<StoreName, StoreTotals>> = {};
  readonly deadLetterWrites: WriteCount = { written: 0, alreadyPresent: 0 };
  duplicateInEvent = 0;
  valid = 0;
  decodeMs = 0;
  /** Offsets seen, by cluster and partition (the identity without its offset). */
  private readonly seen = new Map<string, Set<number>>();
  /** The partition last looked up: an event's records come partition by partition. */
  private last?: { meta: RecordMeta; offsets: Set<number> };

  /**
   * Counts a record's identity; false when the same identity came earlier in the event (the same
   * coordinates twice, or two re-sent copies carrying one identity).
   */
  firstOf(meta: RecordMeta): boolean {
    const offsets = this.offsetsOf(meta);
    const offset = meta.coordinates.offset;
    if (offsets.has(offset)) {
      this.duplicateInEvent++;
      return false;
    }
    offsets.add(offset);
    return true;
  }

  private offsetsOf(meta: RecordMeta): Set<number> {
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
    if (!offsets) this.seen.set(key, (offsets = new Set()));
    this.last = { meta, offsets };
    return offsets;
  }

  /** Counts a chunk's outcome by kind (its writes are counted by {@link addWrite}). */
  addPrepared(chunk: PreparedChunk<unknown>): void {
    this.valid += chunk.records.length;
    this.tombstones.push(...chunk.tombstones);
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
  cluster: ClusterKey = LEGACY_CLUSTER,
): Sorted<T> {
  const d = decodeRecord(r, cluster);
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
    if (why) return unpreparable(r, why, cluster);
  }
  return { kind: 'record', record };
}

/** A record nothing else caught: dead-lettered with the raw bytes as received. */
function unpreparable<T>(r: KafkaEventRecord, detail: string, cluster: ClusterKey): Sorted<T> {
  const coordinates = { topic: r.topic, partition: r.partition, offset: r.offset };
  const meta = {
    cluster,
    coordinates,
    timestamp: r.timestamp,
    timestampType: r.timestampType,
    keyBase64: r.key ?? undefined,
    headers: [],
  };
  return {
    kind: 'dead',
    dead: { meta, valueBase64: r.value ?? undefined, error: new RecordError('unstorable', coordinates, detail) },
  };
}

/** {@link sortRecord}, except that an exception while preparing a record dead-letters that record alone. */
function sortSafely<T>(
  r: KafkaEventRecord,
  type: RecordType<T>,
  screens: readonly Screen<T>[],
  cluster: ClusterKey,
): Sorted<T> {
  try {
    return sortRecord(r, type, screens, cluster);
  } catch (e) {
    return unpreparable(r, `could not be prepared: ${e instanceof Error ? e.message : String(e)}`, cluster);
  }
}

/** Prepares records [from, to) of `all` (no I/O); in-event duplicates are counted and left out. */
export function prepareChunk<T>(
  all: readonly KafkaEventRecord[],
  bounds: ChunkBounds,
  type: RecordType<T>,
  acc: BatchAccumulator,
  screens: readonly Screen<T>[] = [],
  cluster: ClusterKey = LEGACY_CLUSTER,
): PreparedChunk<T> {
  const chunk: PreparedChunk<T> = { bounds, partitions: {}, records: [], deadLetters: [], tombstones: [] };
  const ranges = new PartitionRanges();
  for (let i = bounds.from; i < bounds.to; i++) {
    const r = all[i];
    ranges.add(r);
    acc.partitions.add(r);
    const s = sortSafely(r, type, screens, cluster);
    if (!acc.firstOf(metaOf(s))) continue;
    if (s.kind === 'record') chunk.records.push(s.record);
    else if (s.kind === 'dead') chunk.deadLetters.push(s.dead);
    else chunk.tombstones.push(s.tombstone);
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
