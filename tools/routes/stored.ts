/**
 * What the stores hold against what the routes now say (`npm run doctor -- --stores`): the schema
 * changes the sink would refuse at start (lib/sink/evolve.ts), found without changing anything.
 */
import { MongoClient } from 'mongodb';
import type pg from 'pg';
import type { Config } from '../../lib/config';
import { MongoEvolution } from '../../lib/mongo/evolve';
import { createMongoClient } from '../../lib/mongo/store';
import { PostgresEvolution } from '../../lib/postgres/evolve';
import { qualified, tablesFrom } from '../../lib/postgres/names';
import { createPostgresPool } from '../../lib/postgres/store';
import type { RouteTarget } from '../../lib/routes/default';

async function postgresProblems(pool: pg.Pool, config: Config, routes: readonly RouteTarget[]): Promise<string[]> {
  const all = await Promise.all(
    routes.map((r) =>
      new PostgresEvolution(qualified({ ...tablesFrom(config), records: r.table }, 'records'), r.type).problems(pool),
    ),
  );
  return all.flat().map((p) => `postgres: ${p}`);
}

async function mongoProblems(client: MongoClient, config: Config, routes: readonly RouteTarget[]): Promise<string[]> {
  const db = client.db(config.MONGO_DATABASE);
  const all = await Promise.all(
    routes.map((r) => new MongoEvolution(db, db.collection(r.collection), r.type).problems()),
  );
  return all.flat().map((p) => `mongo: ${p}`);
}

/** Each schema change of `routes` that the record stores `config` names could not follow, one line each. */
export async function storedSchemaProblems(config: Config, routes: readonly RouteTarget[]): Promise<string[]> {
  const problems: string[] = [];
  if (config.SINK_STORES.includes('postgres')) {
    const pool = createPostgresPool(config);
    try {
      problems.push(...(await postgresProblems(pool, config, routes)));
    } finally {
      await pool.end();
    }
  }
  if (config.SINK_STORES.includes('mongo')) {
    const client = createMongoClient(config);
    try {
      problems.push(...(await mongoProblems(client, config, routes)));
    } finally {
      await client.close();
    }
  }
  return problems;
}
