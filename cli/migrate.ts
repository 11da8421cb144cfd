/** `npm run migrate`: creates the Postgres tables and indexes and the Mongo indexes, if missing. */
import { loadConfig, loadStackEnv, redactUrl } from '../lib/config';
import { quoteType } from '../lib/records/quote';
import type { RecordType } from '../lib/records/record-type';
import { MongoStore } from '../lib/sink/mongo';
import { PostgresStore } from '../lib/sink/postgres';

async function main(): Promise<void> {
  loadStackEnv();
  const c = loadConfig();
  const pg = new PostgresStore(c, quoteType as RecordType<unknown>);
  const mongo = new MongoStore(c);
  try {
    await pg.ensureSchema();
    console.log(`postgres ${redactUrl(c.POSTGRES_URL)}: tables ${c.POSTGRES_SCHEMA}.${c.POSTGRES_QUOTES_TABLE} and ${c.POSTGRES_SCHEMA}.${c.POSTGRES_DEAD_LETTER_TABLE} ready`);
    await mongo.ensureIndexes();
    console.log(`mongo ${redactUrl(c.MONGO_URL)}: ${c.MONGO_DATABASE}.${c.MONGO_COLLECTION} indexes ready`);
  } finally {
    await Promise.all([pg.close(), mongo.close()]);
  }
}

main().catch((e: Error) => {
  console.error(`migrate failed: ${e.message}`);
  process.exit(1);
});
