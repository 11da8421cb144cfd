/**
 * The ports the sink core owns. Store adapters (lib/postgres/store.ts, lib/mongo/store.ts, in-memory
 * fakes in tests) implement them and are handed their clients by the composition root.
 */
import type { RecordMeta } from '../event/decode';
import type { RecordType } from '../records/record-type';
import type { DeadLetter, GoodRecord, Tombstone } from './model';

/**
 * A store's name, as the store gives it (`RecordStore.name`): the one source of the keys of the
 * batch summary's counts and durations, the metrics and the emulator's status. The core never
 * spells a store's name; only lib/stores.ts and the configuration name the built-in ones.
 */
export type StoreName = string;

/** What one write did: rows or documents that were new, and those whose identity was there already. */
export interface WriteCount {
  written: number;
  alreadyPresent: number;
}

/**
 * A record a store did not keep for its content (not an outage): its index in the chunk, why, and
 * whether the store refused it or holds a different record at its coordinates.
 */
export interface Rejection {
  index: number;
  reason: string;
  kind?: 'store' | 'collision';
}

/** A record store's write: counts, plus the records it refused (neither written nor present). */
export interface RecordWriteCount extends WriteCount {
  rejected?: Rejection[];
}

/** A store of records (one row or document per record, idempotent on the record's identity). */
export interface RecordStore<T> {
  readonly name: StoreName;
  /** Creates tables, collections and indexes if missing; once per instance, retried after a failure. */
  ready(): Promise<void>;
  /**
   * Writes a chunk's records; a record whose identity is stored already counts as present. A record
   * the server refuses for its content is reported in `rejected` and the others are written; only
   * an infrastructure failure rejects the promise.
   */
  write(records: readonly GoodRecord<T>[], ingestedAt: Date): Promise<RecordWriteCount>;
  /**
   * Deletes the copies of these records that the batch writing them made (same identity and
   * fingerprint, stored at the records' `ingestedAt`), never a copy an earlier write had stored: a
   * compensation when another store did not keep them.
   */
  deleteRecords(records: readonly GoodRecord<T>[]): Promise<number>;
  /**
   * Why this store could never keep `record` (e.g. over its document size limit), or undefined.
   * Checked before any write, so such a record is dead-lettered instead of failing its batch.
   */
  screen?(record: GoodRecord<T>, valueBytes: number): string | undefined;
  /** Deletes, for each tombstone, the stored records of its partition with its key and a lower offset. */
  deleteByKey(tombstones: readonly Tombstone[]): Promise<number>;
  close(): Promise<void>;
}

/** Where records that cannot be stored go, with their raw bytes and a reason. */
export interface DeadLetterStore {
  readonly name: StoreName;
  ready(): Promise<void>;
  write(deadLetters: readonly DeadLetter[]): Promise<WriteCount>;
  /**
   * Marks the pending dead letters each keyed tombstone supersedes (its partition, its key, a
   * lower offset): a replay leaves them, so a deleted key never comes back from its dead letters.
   * Remembers the tombstone too, for {@link superseded}.
   */
  supersede?(tombstones: readonly Tombstone[]): Promise<number>;
  /**
   * The positions among `records` (re-sent ones: replays, redrives) that a tombstone applied
   * earlier supersedes: same cluster, topic, partition and key, a lower offset. They are not stored.
   */
  superseded?(records: readonly RecordMeta[]): Promise<Set<number>>;
  /**
   * Marks as stored the pending dead letters (kinds in SETTLED_BY_STORING: a store refused the
   * record) whose very record, same identity and fingerprint, is among `stored`, the records a
   * batch wrote to (or found in) every record store: a refused record written by a later read is
   * not pending any more. One lookup per batch; returns how many it marked.
   */
  markStored?(stored: readonly RecordMeta[]): Promise<number>;
  /**
   * Notes that `topic`'s records come from `cluster`, and returns the other cluster keys noted for
   * it before: a topic whose cluster key changed (a broker list edited without SINK_CLUSTER_ID)
   * has its records stored again. Asks the store once per pair and instance.
   */
  otherClusters?(topic: string, cluster: string): Promise<string[]>;
  close(): Promise<void>;
}

/** Everything a batch writes to. */
export interface Stores<T> {
  records: readonly RecordStore<T>[];
  deadLetters: DeadLetterStore;
}

/** One route's part of the stores: the topic it takes, its record type, and its own record stores. */
export interface RouteStores<T = unknown> {
  /** The route's name in the sink file: the key of its part of the batch summary and its metrics. */
  name: string;
  topic: string;
  type: RecordType<T>;
  records: readonly RecordStore<T>[];
}

/** Everything a routed batch writes to: every route's record stores, and the one dead-letter store. */
export interface RoutedStores {
  routes: readonly RouteStores[];
  deadLetters: DeadLetterStore;
}

/**
 * A route's stores as an element of {@link RoutedStores.routes}, which holds routes of different
 * record types: the type and the stores agree by construction, so the type is erased here, once.
 */
export const routeStores = <T>(route: RouteStores<T>): RouteStores => route as unknown as RouteStores;
