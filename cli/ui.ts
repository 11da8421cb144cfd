/**
 * `npm run ui -- [--port N]`: a local web view of the pipeline on 127.0.0.1 (topics and lag,
 * records and their fate, the emulator live, dead letters and replay, store consistency).
 * Reads the same configuration as the other CLIs (environment, `.env`, `.stack/env`).
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { loadConfig, loadStackEnv } from '../lib/config';
import { QuotesSinkError } from '../lib/errors';
import { createUiContext } from '../lib/ui/context';
import { startUiServer } from '../lib/ui/server';

const USAGE = `usage: npm run ui -- [--port N]

  --port N   port on 127.0.0.1 (default 8088; 0 picks a free one)
  --help, -h this text

Pages: Topics, Records, Emulator, Dead letters, Stores. Configuration as for the other commands
(KAFKA_TOPIC, KAFKA_GROUP_ID, POSTGRES_*, MONGO_*; .env and .stack/env are read).`;

const argsSchema = z.object({
  port: z.coerce.number().int().min(0).max(65_535).default(8088),
  help: z.boolean().default(false),
});

/** Thrown for bad command-line arguments (the usage follows the message). */
class UsageError extends QuotesSinkError {}

function parse(argv: string[]): z.infer<typeof argsSchema> {
  try {
    const { values } = parseArgs({
      args: argv,
      options: { port: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    });
    const parsed = argsSchema.safeParse(values);
    if (!parsed.success)
      throw new UsageError(parsed.error.issues.map((i) => `--${i.path.join('.')}: ${i.message}`).join('; '));
    return parsed.data;
  } catch (e) {
    throw e instanceof UsageError ? e : new UsageError((e as Error).message);
  }
}

async function main(): Promise<void> {
  const args = parse(process.argv.slice(2));
  if (args.help) return void console.log(USAGE);
  loadStackEnv();
  const ctx = createUiContext(loadConfig());
  const server = await startUiServer(ctx, args.port);
  console.log(`quotes-sink UI on ${server.url} (Ctrl-C stops it)`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await server.close();
  await ctx.close();
}

main().then(
  () => process.exit(0),
  (e: Error) => {
    // A usage mistake is one line; --help has the rest.
    console.error(`ui: ${e.message}${e instanceof UsageError ? '; see --help' : ''}`);
    process.exit(e instanceof UsageError ? 2 : 1);
  },
);
