/** `npm run migrate`: creates the Postgres tables and indexes and the Mongo indexes, if missing. */
import { z } from 'zod';
import { loadConfig, loadStackEnv, redactUrl } from '../lib/config';
import { defineCommand, parseCommand } from '../lib/cli/args';
import { printBanner } from '../lib/cli/banner';
import { runMain } from '../lib/cli/main';
import { reachable } from '../lib/cli/reachable';
import { quoteType } from '../lib/records/quote';
import { openStores } from '../lib/sink/stores';
import { qualifiedTable } from '../lib/sink/tables';

export const MIGRATE = defineCommand({
  command: 'npm run migrate --',
  summary: [
    'Creates the PostgreSQL tables (records and dead letters, in POSTGRES_SCHEMA) and their indexes,',
    'and the MongoDB indexes, where missing. The handler does the same once per container.',
  ].join('\n'),
  flags: {},
  schema: z.object({}).strict(),
  notes: ['Environment: POSTGRES_URL, POSTGRES_SCHEMA, POSTGRES_QUOTES_TABLE, MONGO_URL, MONGO_DATABASE, … (README).'],
});

async function main(argv: string[]): Promise<void> {
  parseCommand(MIGRATE, argv);
  loadStackEnv();
  const c = loadConfig();
  printBanner('migrate', c, { stores: true });
  // Once, with short timeouts: the stores' own clients would retry for their full timeouts.
  await reachable(c, ['postgres', 'mongo']);
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

runMain('migrate', main);
