/**
 * `npm run stack -- up [--uis] | down [--uis] [--purge] | status [--json]`: the local Kafka +
 * PostgreSQL + MongoDB stack, and on request the web UIs of the tutorial (pgAdmin, mongo-express).
 * See tools/stack/mode.ts for how it chooses between your services, Docker and native processes.
 */
import { z } from 'zod';
import { STACK_ENV_FILE } from '../lib/config';
import { defineCommand, defineGroup, parseSubcommand } from '../tools/cli/args';
import { runMain } from '../tools/cli/main';
import { shownPath } from '../tools/stack/proc';
import { down, downUisOnly, status, uiStatus, up, type ServiceState } from '../tools/stack/stack';

const log = (m: string) => process.stderr.write(`[stack] ${m}\n`);

export const STACK = defineGroup({
  command: 'npm run stack --',
  summary: 'The local Kafka + PostgreSQL + MongoDB stack: your services, Docker Compose, or native processes.',
  subcommands: {
    up: defineCommand({
      command: 'npm run stack -- up',
      summary: 'Brings the stack up (idempotent) and writes the addresses it uses to .stack/env.',
      flags: {
        uis: {
          type: 'boolean',
          help: 'also pgAdmin on 127.0.0.1:5050 and mongo-express on 127.0.0.1:8081 (installed on first use)',
        },
        registry: {
          type: 'boolean',
          help: 'also a Confluent-compatible schema registry (Apicurio 2.6, natively, on 127.0.0.1:18081)',
        },
      },
      schema: z.object({ uis: z.boolean().default(false), registry: z.boolean().default(false) }).strict(),
      notes: [
        [
          'Uses your services when KAFKA_BROKERS, POSTGRES_URL and MONGO_URL are all set (environment or .env)',
          'and answer; else the mode of the last up; else Docker if an engine answers; else native processes',
          '(Java 17 + Maven, Go >= 1.24, PostgreSQL; see the README).',
        ].join('\n'),
        [
          '--uis runs the web UIs of docker-compose.yml natively (docker mode: compose runs them): pgAdmin 4',
          "from PyPI (needs python3 with venv) with the stack's Postgres registered, and mongo-express from npm,",
          'both cached under the stack folder. Nothing for Kafka installs natively: `npm run ui` shows the topics.',
        ].join('\n'),
        [
          '--registry runs Apicurio Registry 2.6 natively in any mode (Java 17 + Maven; 142 MB from Maven Central',
          'on first use, cached), in memory, and writes SCHEMA_REGISTRY_URL (its Confluent API) to .stack/env.',
        ].join('\n'),
      ],
    }),
    down: defineCommand({
      command: 'npm run stack -- down',
      summary: 'Stops what up started (by pid, or docker compose down); keeps the data.',
      flags: {
        uis: { type: 'boolean', help: 'stop only the UIs of up --uis; the stack keeps running' },
        purge: {
          type: 'boolean',
          help: "also delete the stack folder (data, logs, downloads); with --uis, only the UIs' folders",
        },
      },
      schema: z.object({ uis: z.boolean().default(false), purge: z.boolean().default(false) }).strict(),
    }),
    status: defineCommand({
      command: 'npm run stack -- status',
      summary: 'One line per service (probing its address), and per UI of up --uis; exits 1 if one is down.',
      flags: { json: { type: 'boolean', help: 'print the states as JSON' } },
      schema: z.object({ json: z.boolean().default(false) }).strict(),
    }),
  },
});

/** One aligned line per service; says when something other than this stack serves an address. */
export function formatState(s: ServiceState): string {
  // 13: the longest name, mongo-express.
  const columns = `${s.name.padEnd(13)} ${s.mode.padEnd(8)} ${s.address.padEnd(16)}`;
  if (!s.up) return `${columns} down${s.pid ? ` (pid ${s.pid})` : ''}`;
  if (s.pid) return `${columns} up (pid ${s.pid})`;
  return s.mode === 'native' ? `${columns} up (pid unknown: not started by this stack)` : `${columns} up`;
}

async function printStatus(json: boolean): Promise<number> {
  // The UIs too, while `up --uis` asked for them or they run.
  const states = [...(await status()), ...(await uiStatus())];
  process.stdout.write(json ? `${JSON.stringify(states, null, 2)}\n` : `${states.map(formatState).join('\n')}\n`);
  return states.every((s) => s.up) ? 0 : 1;
}

async function main(argv: string[]): Promise<number> {
  const cmd = parseSubcommand(STACK, argv);
  switch (cmd.name) {
    case 'up':
      await up(log, { uis: cmd.options.uis, registry: cmd.options.registry });
      log(`settings in ${shownPath(STACK_ENV_FILE)}`);
      return 0;
    case 'down':
      await (cmd.options.uis ? downUisOnly(log, cmd.options.purge) : down(log, cmd.options.purge));
      return 0;
    case 'status':
      return printStatus(cmd.options.json);
  }
}

runMain('stack', main);
