/**
 * `npm run stack -- up | down [--purge] | status`: the local Kafka + PostgreSQL + MongoDB stack.
 * See lib/stack/stack.ts for how it chooses between your services, Docker and native processes.
 */
import { down, status, up } from '../lib/stack/stack';

const log = (m: string) => process.stderr.write(`[stack] ${m}\n`);

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'up': {
      const { mode, env } = await up(log);
      log(`${mode} stack ready; settings in .stack/env (kafka ${env.KAFKA_BROKERS})`);
      return 0;
    }
    case 'down':
      await down(log, rest.includes('--purge'));
      return 0;
    case 'status': {
      const lines = await status();
      process.stdout.write(`${lines.join('\n')}\n`);
      return lines.every((l) => / up( |$)/.test(l)) ? 0 : 1;
    }
    default:
      process.stderr.write('usage: npm run stack -- up | down [--purge] | status\n');
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
