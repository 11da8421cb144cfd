/** `npm run migrate`: creates the Postgres tables and indexes and the Mongo indexes, if missing. */
import { z } from 'zod';
import { loadConfig, loadStackEnv, redactUrl, storesInUse, type Config } from '../lib/config';
import { defineCommand, intFlag, parseCommand } from '../tools/cli/args';
import { printBanner } from '../tools/cli/banner';
import { runMain } from '../tools/cli/main';
import { reachable } from '../tools/cli/reachable';
import { routeTargets, type RouteTarget } from '../lib/routes/default';
import { openRouteStores } from '../lib/stores';
import { qualified, qualifiedTable, tablesFrom } from '../lib/postgres/names';
import { BACKFILL_BATCH } from '../lib/postgres/evolve';
import type { BackfillProgress } from '../lib/sink/evolve';

export const MIGRATE = defineCommand({
  command: 'npm run migrate --',
  summary: [
    'Creates the PostgreSQL tables (the records of every route and the dead letters, in POSTGRES_SCHEMA)',
    'and their indexes, and the MongoDB indexes, where missing; only for the stores SINK_STORES names. The',
    'handler does the same once per container. After a schema change that adds an optional property, fills the new',
    'column (and the Mongo field) of the records stored before from what they keep, in batches, with',
    'progress; a change that cannot be followed (a type change, a removed column, a new required',
    'property) is refused in one line and nothing is applied.',
  ].join('\n'),
  flags: {
    batch: {
      type: 'string',
      value: 'N',
      help: `rows or documents a backfill step updates at most (default ${BACKFILL_BATCH})`,
    },
  },
  schema: z.object({ batch: intFlag(1, 100_000).optional() }).strict(),
  notes: ['Environment: POSTGRES_URL, POSTGRES_SCHEMA, POSTGRES_QUOTES_TABLE, MONGO_URL, MONGO_DATABASE, … (README).'],
});

/** What `migrate` made ready, one line per database it uses: every route's table and collection. */
function readyLines(c: Config, used: readonly ('postgres' | 'mongo')[], routes: readonly RouteTarget[]): string[] {
  const lines: string[] = [];
  if (used.includes('postgres')) {
    const records = routes.map((r) => qualified({ ...tablesFrom(c), records: r.table }, 'records'));
    const tables = `${records.join(', ')} and ${qualifiedTable(c, 'deadLetters')}`;
    lines.push(`postgres ${redactUrl(c.POSTGRES_URL)}: tables ${tables} ready`);
  }
  if (used.includes('mongo')) {
    const collections = routes.map((r) => `${c.MONGO_DATABASE}.${r.collection}`).join(', ');
    const what = c.SINK_STORES.includes('mongo')
      ? `${collections} indexes ready`
      : `reachable (${c.MONGO_DATABASE}.${c.MONGO_DEAD_LETTER_COLLECTION} appears with its first dead letter)`;
    lines.push(`mongo ${redactUrl(c.MONGO_URL)}: ${what}`);
  }
  return lines;
}

/** One line per backfill step: where, what, and how far. */
const progressLine = (p: BackfillProgress): string =>
  `backfill ${p.table} (${p.columns.join(', ')}): ${p.scanned} looked at, ${p.filled} filled`;

async function main(argv: string[]): Promise<void> {
  const flags = parseCommand(MIGRATE, argv);
  loadStackEnv();
  const c = loadConfig();
  printBanner('migrate', c, { stores: true });
  // Once, with short timeouts: the stores' own clients would retry for their full timeouts.
  // Only the databases SINK_STORES (and where dead letters go) names.
  const used = storesInUse(c);
  await reachable(c, used);
  const evolution = { batch: flags.batch, onProgress: (p: BackfillProgress) => console.log(progressLine(p)) };
  const routes = routeTargets(c);
  const stores = openRouteStores(c, routes, { evolution });
  try {
    await stores.ready();
    for (const line of readyLines(c, used, routes)) console.log(line);
  } finally {
    await stores.close();
  }
}

runMain('migrate', main);
