/** Builds the sink's stores from configuration: the clients are made here and handed to the adapters. */
import type { Config } from '../config';
import type { RecordType } from '../records/record-type';
import { createMongoClient, MongoStore, mongoTargetFrom } from './mongo';
import type { Stores } from './port';
import { createPostgresPool, postgresStores } from './postgres';
import { tablesFrom } from './tables';

/** The sink's stores, with one close for all of them. */
export interface OpenStores<T> extends Stores<T> {
  /** Ready every store (tables, collections, indexes). */
  ready(): Promise<void>;
  close(): Promise<void>;
}

/** Postgres (records and dead letters) and Mongo stores for `type`, on new clients; no I/O until used. */
export function openStores<T>(config: Config, type: RecordType<T>): OpenStores<T> {
  const pg = postgresStores(createPostgresPool(config), type, tablesFrom(config));
  const mongo = new MongoStore(createMongoClient(config), mongoTargetFrom(config), type);
  const records = [pg.records, mongo];
  return {
    records,
    deadLetters: pg.deadLetters,
    ready: async () => {
      await Promise.all([...records.map((s) => s.ready()), pg.deadLetters.ready()]);
    },
    close: async () => {
      await Promise.all([...records.map((s) => s.close()), pg.deadLetters.close()]);
    },
  };
}
