/** `npm run migrate`: creates the Postgres tables and indexes and the Mongo indexes, if missing. */
import { loadConfig, loadStackEnv, redactUrl } from '../lib/config';
import { quoteType } from '../lib/records/quote';
import { openStores } from '../lib/sink/stores';
import { qualifiedTable } from '../lib/sink/tables';

async function main(): Promise<void> {
  loadStackEnv();
  const c = loadConfig();
  const stores = openStores(c, quoteType);
  try {
    await stores.ready();
    const tables = `${qualifiedTable(c, 'records')} and ${qualifiedTable(c, 'deadLetters')}`;
    console.log(`postgres ${redactUrl(c.POSTGRES_URL)}: tables ${tables} ready`);
    console.log(`mongo ${redactUrl(c.MONGO_URL)}: ${c.MONGO_DATABASE}.${c.MONGO_COLLECTION} indexes ready`);
  } finally {
    await stores.close();
  }
}

main().catch((e: Error) => {
  console.error(`migrate failed: ${e.message}`);
  process.exit(1);
});
