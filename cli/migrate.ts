/** `npm run migrate`: creates the Postgres tables and indexes and the Mongo indexes, if missing. */
import { z } from 'zod';
import { loadConfig, loadStackEnv, redactUrl, storesInUse, type Config } from '../lib/config';
import { defineCommand, parseCommand } from '../tools/cli/args';
import { printBanner } from '../tools/cli/banner';
import { runMain } from '../tools/cli/main';
import { reachable } from '../tools/cli/reachable';
import { quotesRoute } from '../lib/routes/default';
import { openStores } from '../lib/stores';
import { qualifiedTable } from '../lib/postgres/names';

export const MIGRATE = defineCommand({
  command: 'npm run migrate --',
  summary: [
    'Creates the PostgreSQL tables (records and dead letters, in POSTGRES_SCHEMA) and their indexes,',
    'and the MongoDB indexes, where missing; only for the stores SINK_STORES names. The handler does',
    'the same once per container.',
  ].join('\n'),
  flags: {},
  schema: z.object({}).strict(),
  notes: ['Environment: POSTGRES_URL, POSTGRES_SCHEMA, POSTGRES_QUOTES_TABLE, MONGO_URL, MONGO_DATABASE, … (README).'],
});

/** What `migrate` made ready, one line per database it uses. */
function readyLines(c: Config, used: readonly ('postgres' | 'mongo')[]): string[] {
  const lines: string[] = [];
  if (used.includes('postgres')) {
    const tables = `${qualifiedTable(c, 'records')} and ${qualifiedTable(c, 'deadLetters')}`;
    lines.push(`postgres ${redactUrl(c.POSTGRES_URL)}: tables ${tables} ready`);
  }
  if (used.includes('mongo')) {
    const what = c.SINK_STORES.includes('mongo')
      ? `${c.MONGO_DATABASE}.${c.MONGO_COLLECTION} indexes ready`
      : `reachable (${c.MONGO_DATABASE}.${c.MONGO_DEAD_LETTER_COLLECTION} appears with its first dead letter)`;
    lines.push(`mongo ${redactUrl(c.MONGO_URL)}: ${what}`);
  }
  return lines;
}

async function main(argv: string[]): Promise<void> {
  parseCommand(MIGRATE, argv);
  loadStackEnv();
  const c = loadConfig();
  printBanner('migrate', c, { stores: true });
  // Once, with short timeouts: the stores' own clients would retry for their full timeouts.
  // Only the databases SINK_STORES (and where dead letters go) names.
  const used = storesInUse(c);
  await reachable(c, used);
  const stores = openStores(c, quotesRoute());
  try {
    await stores.ready();
    for (const line of readyLines(c, used)) console.log(line);
  } finally {
    await stores.close();
  }
}

runMain('migrate', main);
