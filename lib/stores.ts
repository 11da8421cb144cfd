/**
 * Builds the sink's stores from configuration: the clients are made here, one pg pool and one
 * MongoClient whatever the number of routes, and handed to the adapters. Each route gets its own
 * records table and collection; there is one dead-letter store for all of them. `SINK_STORES`
 * picks the record stores; dead letters go to Postgres when it is one of them, else to a MongoDB
 * collection (`SINK_DEAD_LETTERS` overrides). A database that is not used gets no client.
 */
import type { MongoClient } from 'mongodb';
import type pg from 'pg';
import { deadLetterStore, storesInUse, type BuiltInStore, type Config } from './config';
import type { RecordType } from './records/record-type';
import type { RouteTarget } from './routes/default';
import type { EvolutionOptions } from './sink/evolve';
import type * as MongoAdapter from './mongo/store';
import type * as MongoDeadLetters from './mongo/dead-letters';
import {
  routeStores,
  type DeadLetterStore,
  type RecordStore,
  type RoutedStores,
  type RouteStores,
  type Stores,
} from './sink/port';
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

/** Every route's stores and the dead-letter store, with one ready and one close for all of them. */
export interface OpenRoutedStores extends RoutedStores {
  /** Ready every store (every route's table, collection and indexes, and the dead letters'). */
  ready(): Promise<void>;
  /** Closes the clients (each once). */
  close(): Promise<void>;
}

/** One database's stores: a records store per route (in the routes' order), the dead-letter store, the client. */
interface Opened {
  records: RecordStore<unknown>[];
  deadLetters: DeadLetterStore;
  close(): Promise<void>;
}

/** What opening the stores may be told: how a schema change's backfill goes (`npm run migrate` shows its progress). */
export interface OpenOptions {
  evolution?: EvolutionOptions;
}

/** The route targets with their types erased: a list holds routes of different record types. */
type AnyTarget = RouteTarget<unknown>;

function openPostgres(config: Config, routes: readonly AnyTarget[], options: OpenOptions): Opened {
  const { postgresRouteStores, createPostgresPool } = postgresAdapter();
  const pool: pg.Pool = createPostgresPool(config);
  const opened = postgresRouteStores(pool, routes, tablesFrom(config), options);
  return { ...opened, close: () => pool.end() };
}

function openMongo(config: Config, routes: readonly AnyTarget[], options: OpenOptions): Opened {
  const { MongoStore, createMongoClient } = mongoAdapter();
  const client: MongoClient = createMongoClient(config);
  const target = { database: config.MONGO_DATABASE, collection: config.MONGO_DEAD_LETTER_COLLECTION };
  return {
    records: routes.map(
      (r) => new MongoStore(client, { database: config.MONGO_DATABASE, collection: r.collection }, r.type, options),
    ),
    deadLetters: new (mongoDeadLetters().MongoDeadLetterStore)(client, target),
    close: () => client.close(),
  };
}

/**
 * The stores `config` asks for, for every route of `routes` (see lib/routes/default.ts
 * `routeTargets`: the sink file's, the quotes route's names from the configuration), on new
 * clients shared by the routes; no I/O until used.
 */
export function openRouteStores<T>(
  config: Config,
  routes: readonly RouteTarget<T>[],
  options: OpenOptions = {},
): OpenRoutedStores {
  const targets = routes as readonly RouteTarget<unknown>[] as readonly AnyTarget[];
  const used = storesInUse(config);
  const opened: Partial<Record<BuiltInStore, Opened>> = {
    postgres: used.includes('postgres') ? openPostgres(config, targets, options) : undefined,
    mongo: used.includes('mongo') ? openMongo(config, targets, options) : undefined,
  };
  const deadLetters = (opened[deadLetterStore(config)] as Opened).deadLetters;
  const perRoute: RouteStores[] = targets.map((r, i) =>
    routeStores({
      name: r.name,
      topic: r.topic,
      type: r.type,
      records: config.SINK_STORES.flatMap((name) => opened[name]?.records[i] ?? []),
    }),
  );
  const all = perRoute.flatMap((r) => r.records);
  return {
    routes: perRoute,
    deadLetters,
    ready: async () => {
      await Promise.all([...all.map((s) => s.ready()), deadLetters.ready()]);
    },
    close: async () => {
      // The clients are this module's: closed here, each once (every records store shares them).
      await Promise.all([...Object.values(opened).map((o) => o?.close()), deadLetters.close()]);
    },
  };
}

/**
 * The stores of one record type, on the configuration's records table and collection
 * (POSTGRES_QUOTES_TABLE, MONGO_COLLECTION) and new clients; no I/O until used.
 */
export function openStores<T>(config: Config, type: RecordType<T>, options: OpenOptions = {}): OpenStores<T> {
  const target: RouteTarget<T> = {
    name: 'quotes',
    topic: config.KAFKA_TOPIC,
    table: config.POSTGRES_QUOTES_TABLE,
    collection: config.MONGO_COLLECTION,
    type,
  };
  const { routes, deadLetters, ready, close } = openRouteStores(config, [target], options);
  return { records: routes[0].records as readonly RecordStore<T>[], deadLetters, ready, close };
}
