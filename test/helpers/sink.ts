/** Real Postgres + Mongo stores on tables and a collection of the test's own, with counting helpers. */
import { MongoClient } from 'mongodb';
import pg from 'pg';
import type { Config } from '../../lib/config';
import { quoteType } from '../../lib/records/quote';
import type { RecordType } from '../../lib/records/record-type';
import { MongoStore } from '../../lib/sink/mongo';
import { PostgresStore } from '../../lib/sink/postgres';
import { stackConfig, uniqueName } from './env';

export interface Sandbox {
  config: Config;
  /** Env overrides that point the handler at this sandbox. */
  env: Record<string, string>;
  postgres: PostgresStore;
  mongo: MongoStore;
  counts(): Promise<{ rows: number; docs: number; deadLetters: number }>;
  query<R extends pg.QueryResultRow = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<R[]>;
  docs(): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

export async function sandbox(name = 'sink'): Promise<Sandbox> {
  const id = uniqueName(name).toLowerCase();
  const env = { POSTGRES_QUOTES_TABLE: `${id}_quotes`, POSTGRES_DEAD_LETTER_TABLE: `${id}_dl`, MONGO_COLLECTION: `${id}_quotes` };
  const config = stackConfig(env);
  const mongoClient = await MongoClient.connect(config.MONGO_URL);
  const postgres = new PostgresStore(config, quoteType as RecordType<unknown>);
  const mongo = new MongoStore(config);
  await postgres.ensureSchema();
  const collection = mongoClient.db(config.MONGO_DATABASE).collection(config.MONGO_COLLECTION);
  // A connection per query: the fault tests restart Postgres under the sandbox's feet.
  const query = async <R extends pg.QueryResultRow>(sql: string, params?: unknown[]) => {
    const client = new pg.Client({ connectionString: config.POSTGRES_URL, connectionTimeoutMillis: 5_000 });
    await client.connect();
    try {
      return (await client.query<R>(sql, params)).rows;
    } finally {
      await client.end().catch(() => undefined);
    }
  };
  return {
    config,
    env,
    postgres,
    mongo,
    query,
    async counts() {
      const [r] = await query<{ rows: number; dl: number }>(
        `select (select count(*) from "${env.POSTGRES_QUOTES_TABLE}")::int as rows, (select count(*) from "${env.POSTGRES_DEAD_LETTER_TABLE}")::int as dl`,
      );
      return { rows: r.rows, docs: await collection.countDocuments(), deadLetters: r.dl };
    },
    docs: () => collection.find({}).sort({ _id: 1 }).toArray(),
    async close() {
      await query(`drop table if exists "${env.POSTGRES_QUOTES_TABLE}", "${env.POSTGRES_DEAD_LETTER_TABLE}"`).catch(() => undefined);
      await collection.drop().catch(() => undefined);
      await Promise.all([mongoClient.close(), postgres.close(), mongo.close()]);
    },
  };
}

/** `n` valid quote values, deterministic. */
export function quotes(n: number, start = 0): string[] {
  return Array.from({ length: n }, (_, i) =>
    JSON.stringify({ quote: `Quote number ${start + i}: Mmm... donuts.`, character: `Character ${(start + i) % 17}`, image: `https://example.test/${start + i}.png`, characterDirection: i % 2 ? 'Left' : 'Right' }),
  );
}
