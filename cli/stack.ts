/**
 * `npm run stack -- up | down [--purge] | status [--json]`: the local Kafka + PostgreSQL + MongoDB stack.
 * See lib/stack/mode.ts for how it chooses between your services, Docker and native processes.
 */
import { z } from 'zod';
import { STACK_ENV_FILE } from '../lib/config';
import { defineCommand, defineGroup, parseSubcommand } from '../lib/cli/args';
import { runMain } from '../lib/cli/main';
import { shownPath } from '../lib/stack/proc';
import { down, status, up, type ServiceState } from '../lib/stack/stack';

const log = (m: string) => process.stderr.write(`[stack] ${m}\n`);

export const STACK = defineGroup({
  command: 'npm run stack --',
  summary: 'The local Kafka + PostgreSQL + MongoDB stack: your services, Docker Compose, or native processes.',
  subcommands: {
    up: defineCommand({
      command: 'npm run stack -- up',
      summary: 'Brings the stack up (idempotent) and writes the addresses it uses to .stack/env.',
      flags: {},
      schema: z.object({}).strict(),
      notes: [
        [
          'Uses your services when KAFKA_BROKERS, POSTGRES_URL and MONGO_URL are all set (environment or .env)',
          'and answer; else the mode of the last up; else Docker if an engine answers; else native processes',
          '(Java 17 + Maven, Go >= 1.24, PostgreSQL; see the README).',
        ].join('\n'),
      ],
    }),
    down: defineCommand({
      command: 'npm run stack -- down',
      summary: 'Stops what up started (by pid, or docker compose down); keeps the data.',
      flags: { purge: { type: 'boolean', help: 'also delete the stack folder (data, logs, downloads)' } },
      schema: z.object({ purge: z.boolean().default(false) }).strict(),
    }),
    status: defineCommand({
      command: 'npm run stack -- status',
      summary: 'One line per service (probing its address); exits 1 if one is down.',
      flags: { json: { type: 'boolean', help: 'print the states as JSON' } },
      schema: z.object({ json: z.boolean().default(false) }).strict(),
    }),
  },
});

/** One aligned line per service; says when something other than this stack serves an address. */
export function formatState(s: ServiceState): string {
  const columns = `${s.name.padEnd(9)} ${s.mode.padEnd(8)} ${s.address.padEnd(16)}`;
  if (!s.up) return `${columns} down${s.pid ? ` (pid ${s.pid})` : ''}`;
  if (s.pid) return `${columns} up (pid ${s.pid})`;
  return s.mode === 'native' ? `${columns} up (pid unknown: not started by this stack)` : `${columns} up`;
}

async function printStatus(json: boolean): Promise<number> {
  const states = await status();
  process.stdout.write(json ? `${JSON.stringify(states, null, 2)}\n` : `${states.map(formatState).join('\n')}\n`);
  return states.every((s) => s.up) ? 0 : 1;
}

async function main(argv: string[]): Promise<number> {
  const cmd = parseSubcommand(STACK, argv);
  switch (cmd.name) {
    case 'up':
      await up(log);
      log(`settings in ${shownPath(STACK_ENV_FILE)}`);
      return 0;
    case 'down':
      await down(log, cmd.options.purge);
      return 0;
    case 'status':
      return printStatus(cmd.options.json);
  }
}

runMain('stack', main);
