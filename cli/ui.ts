/**
 * `npm run ui -- [--port N]`: a local web view of the pipeline on 127.0.0.1 (topics and lag,
 * records and their fate, the emulator live, dead letters and replay, store consistency).
 * Reads the same configuration as the other CLIs (environment, `.env`, `.stack/env`).
 */
import { z } from 'zod';
import { defineCommand, intFlag, parseCommand } from '../tools/cli/args';
import { runMain } from '../tools/cli/main';
import { loadConfig, loadStackEnv, type Config } from '../lib/config';
import { clusterIdOf, createKafka } from '../tools/kafka';
import { createUiContext } from '../tools/ui/context';
import { startUiServer } from '../tools/ui/server';

export const UI = defineCommand({
  command: 'npm run ui --',
  summary: 'A local web view of the pipeline on 127.0.0.1.',
  flags: {
    port: { type: 'string', value: 'N', help: 'port on 127.0.0.1 (default 8088; 0 picks a free one)' },
  },
  schema: z.object({ port: intFlag(0, 65_535).default('8088') }).strict(),
  notes: [
    [
      'Pages: Topics, Records, Emulator, Dead letters, Stores. Configuration as for the other commands',
      '(KAFKA_TOPIC, KAFKA_GROUP_ID, POSTGRES_*, MONGO_*; .env and .stack/env are read).',
    ].join('\n'),
  ],
});

/**
 * The Kafka cluster's id the emulator names records by (SINK_CLUSTER_ID, else Kafka's), or none
 * when Kafka does not answer within seconds: the UI still serves the stores' pages then.
 */
async function clusterIdOrNone(config: Config): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), 5_000)));
  try {
    const id = clusterIdOf(config, createKafka(config, 'quotes-sink-ui')).catch(() => undefined);
    return await Promise.race([id, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function main(argv: string[]): Promise<void> {
  const args = parseCommand(UI, argv);
  loadStackEnv();
  const config = loadConfig();
  const ctx = createUiContext({ ...config, SINK_CLUSTER_ID: await clusterIdOrNone(config) });
  const server = await startUiServer(ctx, args.port);
  console.log(`quotes-sink UI on ${server.url} (Ctrl-C stops it)`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await server.close();
  await ctx.close();
}

if (require.main === module) runMain('ui', main);
