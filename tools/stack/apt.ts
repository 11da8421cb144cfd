/**
 * Debian packages through apt-get, as `stack up` and `npm test` install what the machine lacks:
 * as root only (a user is told the command), `apt-get update` once per process before the first
 * install (a fresh machine's package lists may be empty or old).
 */
import { run, type RunOptions } from './proc';

/** Runs one command to completion (proc's {@link run}; a fake in tests). */
export type Runner = (cmd: string, args: string[], opts?: RunOptions) => Promise<string>;

let updated: Promise<unknown> | undefined;

const isRoot = () => process.getuid?.() === 0;

/**
 * Installs Debian `packages` with apt-get (non-interactive, keeping existing config files, waiting
 * for another apt's lock rather than failing). Throws, naming the command, when not root.
 */
export async function aptInstall(
  packages: string[],
  log: (m: string) => void,
  runner: Runner = run,
  root: boolean = isRoot(),
): Promise<void> {
  if (packages.length === 0) return;
  const command = `apt-get install -y ${packages.join(' ')}`;
  if (!root) throw new Error(`missing Debian package(s) ${packages.join(', ')}: install them with \`sudo ${command}\``);
  log(`installing Debian package(s) ${packages.join(' ')} (apt-get)`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const lock = ['-o', 'DPkg::Lock::Timeout=300'];
  updated ??= runner('apt-get', ['update', '-q', ...lock], { env, what: 'apt-get update' }).catch((e: unknown) => {
    updated = undefined; // a failed update is tried again by the next install
    throw e;
  });
  await updated;
  const args = ['install', '-y', '-q', ...lock, '-o', 'Dpkg::Options::=--force-confold', ...packages];
  await runner('apt-get', args, { env, what: command });
}

/** Forgets that apt-get update ran (for tests). */
export function resetAptUpdate(): void {
  updated = undefined;
}
