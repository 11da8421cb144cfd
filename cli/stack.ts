/**
 * `npm run stack -- up | down [--purge] | status [--json]`: the local Kafka + PostgreSQL + MongoDB stack.
 * See lib/stack/mode.ts for how it chooses between your services, Docker and native processes.
 */
import { STACK_ENV_FILE } from '../lib/config';
import { shownPath } from '../lib/stack/proc';
import { down, status, up, type ServiceState } from '../lib/stack/stack';

const log = (m: string) => process.stderr.write(`[stack] ${m}\n`);

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
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'up':
      await up(log);
      log(`settings in ${shownPath(STACK_ENV_FILE)}`);
      return 0;
    case 'down':
      await down(log, rest.includes('--purge'));
      return 0;
    case 'status':
      return printStatus(rest.includes('--json'));
    default:
      process.stderr.write('usage: npm run stack -- up | down [--purge] | status [--json]\n');
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: Error) => {
    process.stderr.write(`[stack] ${e.message}\n`);
    process.exit(1);
  },
);
