/** Real Postgres + Mongo stores on tables and a collection of the test's own, with counting helpers. */
import { MongoClient } from 'mongodb';
import pg from 'pg';
import type { Config } from '../../lib/config';
import type { Quote } from '../../lib/records/quote';
import { quoteType } from './quote-type';
import { openStores, type OpenStores } from '../../lib/stores';
import { qualifiedTable } from '../../lib/postgres/names';
import { stackConfig, uniqueName } from './env';

export interface Sandbox extends OpenStores<Quote> {
  config: Config;
  /** Env overrides that point the handler at this sandbox. */
  env: Record<string, string>;
  /** The qualified records and dead-letter tables, for hand-written queries. */
  tables: { records: string; deadLetters: string };
  counts(): Promise<{ rows: number; docs: number; deadLetters: number }>;
  query<R extends pg.QueryResultRow = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<R[]>;
  docs(): Promise<Record<string, unknown>[]>;
}

/** A query on a connection of its own: the fault tests restart Postgres under the sandbox's feet. */
async function queryOnce<R extends pg.QueryResultRow>(url: string, sql: string, params?: unknown[]): Promise<R[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return (await client.query<R>(sql, params)).rows;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Stores on new tables and a new collection (named after `name`), ready to write. */
export async function sandbox(name = 'sink'): Promise<Sandbox> {
  const id = uniqueName(name).toLowerCase();
  const env = {
    POSTGRES_QUOTES_TABLE: `${id}_quotes`,
    POSTGRES_DEAD_LETTER_TABLE: `${id}_dl`,
    MONGO_COLLECTION: `${id}_quotes`,
  };
  const config = stackConfig(env);
  const stores = openStores(config, quoteType);
  await stores.ready();
  const mongoClient = await MongoClient.connect(config.MONGO_URL);
  const collection = mongoClient.db(config.MONGO_DATABASE).collection(config.MONGO_COLLECTION);
  const tables = { records: qualifiedTable(config, 'records'), deadLetters: qualifiedTable(config, 'deadLetters') };
  const query = <R extends pg.QueryResultRow>(sql: string, params?: unknown[]) =>
    queryOnce<R>(config.POSTGRES_URL, sql, params);
  return {
    ...stores,
    config,
    env,
    tables,
    query,
    async counts() {
      const [r] = await query<{ rows: number; dl: number }>(
        `select (select count(*) from ${tables.records})::int as rows, (select count(*) from ${tables.deadLetters})::int as dl`,
      );
      return { rows: r.rows, docs: await collection.countDocuments(), deadLetters: r.dl };
    },
    docs: () => collection.find({}).sort({ _id: 1 }).toArray(),
    async close() {
      const more = `${qualifiedTable(config, 'tombstones')}, ${qualifiedTable(config, 'clusters')}`;
      await query(`drop table if exists ${tables.records}, ${tables.deadLetters}, ${more}`).catch(() => undefined);
      await collection.drop().catch(() => undefined);
      await Promise.all([mongoClient.close(), stores.close()]);
    },
  };
}

/** `n` valid quote values, deterministic. */
export function quotes(n: number, start = 0): string[] {
  return Array.from({ length: n }, (_, i) =>
    JSON.stringify({
      quote: `Quote number ${start + i}: Mmm... donuts.`,
      character: `Character ${(start + i) % 17}`,
      image: `https://example.test/${start + i}.png`,
      characterDirection: i % 2 ? 'Left' : 'Right',
    }),
  );
}
