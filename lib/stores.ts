/**
 * Builds the sink's stores from configuration: the clients are made here and handed to the
 * adapters. `SINK_STORES` picks the record stores; dead letters go to Postgres when it is one of
 * them, else to a MongoDB collection (`SINK_DEAD_LETTERS` overrides). A store that is not used
 * gets no client.
 */
import { deadLetterStore, storesInUse, type Config } from './config';
import type { RecordType } from './records/record-type';
import type { EvolutionOptions } from './sink/evolve';
import type * as MongoAdapter from './mongo/store';
import type * as MongoDeadLetters from './mongo/dead-letters';
import type { DeadLetterStore, RecordStore, Stores } from './sink/port';
import type * as PostgresAdapter from './postgres/store';
import { tablesFrom } from './postgres/names';

/*
 * The adapters (and so their drivers) are loaded when a store is opened, not with this module: a
 * sink that writes one store never loads the other's driver, and the Lambda bundle's `require`
 * does not pay for either.
 */
/* eslint-disable @typescript-eslint/no-require-imports -- loaded on first use, on purpose (above) */
const postgresAdapter = () => require('./postgres/store') as typeof PostgresAdapter;
const mongoAdapter = () => require('./mongo/store') as typeof MongoAdapter;
const mongoDeadLetters = () => require('./mongo/dead-letters') as typeof MongoDeadLetters;
/* eslint-enable @typescript-eslint/no-require-imports */

/** The sink's stores, with one close for all of them. */
export interface OpenStores<T> extends Stores<T> {
  /** Ready every store (tables, collections, indexes). */
  ready(): Promise<void>;
  close(): Promise<void>;
}

/** One database's stores: its records store (which owns the client) and its dead-letter store. */
interface Opened<T> {
  records: RecordStore<T>;
  deadLetters: DeadLetterStore;
}

/** What opening the stores may be told: how a schema change's backfill goes (`npm run migrate` shows its progress). */
export interface OpenOptions {
  evolution?: EvolutionOptions;
}

function openPostgres<T>(config: Config, type: RecordType<T>, options: OpenOptions): Opened<T> {
  const { postgresStores, createPostgresPool } = postgresAdapter();
  return postgresStores(createPostgresPool(config), type, tablesFrom(config), options);
}

function openMongo<T>(config: Config, type: RecordType<T>, options: OpenOptions): Opened<T> {
  const { MongoStore, createMongoClient, mongoTargetFrom } = mongoAdapter();
  const client = createMongoClient(config);
  const target = { database: config.MONGO_DATABASE, collection: config.MONGO_DEAD_LETTER_COLLECTION };
  return {
    records: new MongoStore(client, mongoTargetFrom(config), type, options),
    deadLetters: new (mongoDeadLetters().MongoDeadLetterStore)(client, target),
  };
}

/** The stores `config` asks for, on new clients; no I/O until used. */
export function openStores<T>(config: Config, type: RecordType<T>, options: OpenOptions = {}): OpenStores<T> {
  const deadIn = deadLetterStore(config);
  const used = storesInUse(config);
  const opened = {
    postgres: used.includes('postgres') ? openPostgres(config, type, options) : undefined,
    mongo: used.includes('mongo') ? openMongo(config, type, options) : undefined,
  };
  const records = config.SINK_STORES.flatMap((name) => opened[name]?.records ?? []);
  const deadLetters = (opened[deadIn] as Opened<T>).deadLetters;
  // The records stores own the clients, also where only the dead letters use one.
  const owners = Object.values(opened).flatMap((o) => (o ? [o.records] : []));
  return {
    records,
    deadLetters,
    ready: async () => {
      await Promise.all([...records.map((s) => s.ready()), deadLetters.ready()]);
    },
    close: async () => {
      await Promise.all([...owners.map((s) => s.close()), deadLetters.close()]);
    },
  };
}
