/**
 * `npm run dead-letters -- list [--limit N] [--offset N] [--all]` shows dead letters (coordinates,
 * reason, a preview of the value) and how many there are; `npm run dead-letters -- replay --id
 * topic/partition/offset | --all` re-publishes their raw records to Kafka (after the producer or the
 * schema was fixed) and marks them replayed, so replaying twice sends nothing more.
 */
import { z } from 'zod';
import { loadConfig, loadStackEnv, type Config } from '../lib/config';
import { defineCommand, defineGroup, exclusive, intFlag, parseSubcommand } from '../tools/cli/args';
import { causeText } from '../tools/cli/errors';
import { isBug, runMain } from '../tools/cli/main';
import { checkPostgres, reachable } from '../tools/cli/reachable';
import { parseCoordinates } from '../lib/event/coordinates';
import { QuotesSinkError } from '../lib/errors';
import { createKafka } from '../tools/kafka';
import { routeFlag } from '../tools/cli/route';
import { DeadLetters, printable, type DeadLetterPage } from '../tools/replay/dead-letters';

const LIST = defineCommand({
  command: 'npm run dead-letters -- list',
  summary: 'Shows dead letters, newest first: coordinates, reason, a preview of the value, and the total.',
  flags: {
    limit: { type: 'string', value: 'N', help: 'show at most N (default 50)' },
    offset: { type: 'string', value: 'N', help: 'skip the N newest (default 0): the next page' },
    all: { type: 'boolean', help: 'replayed ones too (default: not yet replayed only)' },
    route: { type: 'string', value: 'NAME', help: "only this route's: its topic's (the sink file's, SINK_FILE)" },
  },
  schema: z
    .object({
      route: z.string().min(1).optional(),
      limit: intFlag(1, 100_000).default('50'),
      offset: intFlag(0).default('0'),
      all: z.boolean().default(false),
    })
    .strict(),
});

const REPLAY = defineCommand({
  command: 'npm run dead-letters -- replay',
  summary: 'Re-publishes dead letters (raw key, value, headers + dead-letter-of) to their topic; marks them replayed.',
  flags: {
    id: { type: 'string', value: 'ID', help: 'the dead letter topic/partition/offset (as list shows it)' },
    all: { type: 'boolean', help: 'every dead letter not yet replayed (collisions apart: see --as-new)' },
    'as-new': {
      type: 'boolean',
      help: 'the collisions instead: another record holds their identity, so they go as new records',
    },
  },
  notes: [
    'A replayed record carries its identity, signed with SINK_IDENTITY_KEY, so the sink stores it once.',
    'Dead letters a tombstone of their key superseded are never replayed.',
  ],
  schema: z
    .object({
      id: z
        .string()
        .refine((s) => parseCoordinates(s) !== undefined, 'takes topic/partition/offset')
        .optional(),
      all: z.boolean().optional(),
      'as-new': z.boolean().optional(),
    })
    .strict()
    .superRefine(exclusive('id', 'all'))
    .superRefine((v, ctx) => {
      if (!v.id && !v.all)
        ctx.addIssue({ code: 'custom', message: 'replay needs --id ID or --all', params: { whole: true } });
    }),
});

export const DEAD_LETTERS = defineGroup({
  command: 'npm run dead-letters --',
  summary: 'The dead-letter table (POSTGRES_DEAD_LETTER_TABLE): list what is in it, replay to Kafka.',
  subcommands: { list: LIST, replay: REPLAY },
});

/** The count line: "50 of 185 dead letter(s) not yet replayed …" when there are more than shown. */
function countLine(page: DeadLetterPage, all: boolean): string {
  const what = `dead letter(s)${all ? '' : ' not yet replayed'}`;
  const shown = page.rows.length;
  if (shown === page.total) return `${shown} ${what}`;
  if (shown === 0) return `none of ${page.total} ${what} at --offset ${page.offset}`;
  const range = page.offset === 0 ? `${shown}` : `${page.offset + 1}-${page.offset + shown}`;
  const more = page.offset + shown < page.total ? `; --offset ${page.offset + shown} for the next page` : '';
  return `${range} of ${page.total} ${what}, newest first${more}`;
}

/** A failure half-way (a dropped connection): one line saying what became of the dead letters. */
function stopped(e: unknown, what: string): unknown {
  if (e instanceof QuotesSinkError || isBug(e)) return e;
  return new QuotesSinkError(`${what}: ${causeText(e)}`, { cause: e, retriable: true });
}

async function list(config: Config, o: z.infer<typeof LIST.schema>): Promise<void> {
  // One table for every route: a route's dead letters are its topic's.
  const topics = o.route ? [routeFlag(config, o.route).topic] : undefined;
  await checkPostgres(config);
  const page = await new DeadLetters(config)
    .list({ limit: o.limit, offset: o.offset, includeReplayed: o.all, topics })
    .catch((e: unknown) => {
      throw stopped(e, 'list failed');
    });
  for (const r of page.rows) {
    const head = `${r.id.padEnd(22)} ${r.errorKind.padEnd(10)} ${r.storedAt ? 'stored ' : r.replayedAt ? 'replayed ' : ''}${printable(r.error)}`;
    console.log(`${head}\n${''.padEnd(22)} ${r.preview}`);
  }
  console.log(countLine(page, o.all));
}

async function replay(config: Config, o: z.infer<typeof REPLAY.schema>): Promise<void> {
  await reachable(config, ['postgres', 'kafka']);
  const kafka = createKafka(config, 'quotes-sink-dead-letters');
  const r = await new DeadLetters(config)
    .replay(kafka, { id: o.id, all: o.all, asNew: o['as-new'] })
    .catch((e: unknown) => {
      throw stopped(e, 'replay stopped (those marked replayed were sent; the rest are still pending: run it again)');
    });
  if (r.collisions > 0)
    console.log(
      `left ${r.collisions} collision(s): another record holds their identity; --as-new sends them as new records`,
    );
  for (const t of r.missingTopics) console.log(`skipped the dead letters of ${t}: the topic no longer exists`);
  console.log(
    r.replayed.length
      ? `replayed ${r.replayed.length} (replay id ${r.replayId}): ${r.replayed.join(', ')}`
      : 'nothing to replay (already replayed or no such dead letter)',
  );
  if (r.missingTopics.length > 0) {
    throw new QuotesSinkError(`not replayed: the dead letters of ${r.missingTopics.join(', ')} (no such topic)`);
  }
}

async function main(argv: string[]): Promise<void> {
  const cmd = parseSubcommand(DEAD_LETTERS, argv);
  loadStackEnv();
  const config = loadConfig();
  if (cmd.name === 'list') await list(config, cmd.options);
  else await replay(config, cmd.options);
}

runMain('dead-letters', main);
