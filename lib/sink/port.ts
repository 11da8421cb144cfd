/**
 * The ports the sink core owns. Store adapters (lib/sink/postgres.ts, lib/sink/mongo.ts, in-memory
 * fakes in tests) implement them and are handed their clients by the composition root.
 */
import type { StoreName } from '../errors';
import type { DeadLetter, GoodRecord, Tombstone } from './model';

/** What one write did: rows or documents that were new, and those whose identity was there already. */
export interface WriteCount {
  written: number;
  alreadyPresent: number;
}

/** A store of records (one row or document per record, idempotent on the record's identity). */
export interface RecordStore<T> {
  readonly name: StoreName;
  /** Creates tables, collections and indexes if missing; once per instance, retried after a failure. */
  ready(): Promise<void>;
  /** Writes a chunk's records; a record whose identity is stored already counts as present. */
  write(records: readonly GoodRecord<T>[], ingestedAt: Date): Promise<WriteCount>;
  /** Deletes, for each tombstone, the stored records of its partition with its key and a lower offset. */
  deleteByKey(tombstones: readonly Tombstone[]): Promise<number>;
  close(): Promise<void>;
}

/** Where records that cannot be stored go, with their raw bytes and a reason. */
export interface DeadLetterStore {
  readonly name: StoreName;
  ready(): Promise<void>;
  write(deadLetters: readonly DeadLetter[]): Promise<WriteCount>;
  close(): Promise<void>;
}

/** Everything a batch writes to. */
export interface Stores<T> {
  records: readonly RecordStore<T>[];
  deadLetters: DeadLetterStore;
}
