/** Native PostgreSQL: Debian's server binaries, a private cluster under .stack/pg. */
import { chownSync, existsSync, mkdirSync, readdirSync, writeFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { DEFAULTS } from '../config';
import { probePostgres } from './probes';
import { STACK_DIR, cmdline, freePort, isAlive, pidFile, run, runningPid, startDetached, stopService, readPort, serviceState, waitUntil, logTail, hasCommand } from './proc';
import type { NativeService, ServiceState } from './service';

const PG_DIR = path.join(STACK_DIR, 'pg');
const DATA_DIR = path.join(PG_DIR, 'data');
const PORT_FILE = path.join(PG_DIR, 'port');
const NAME = 'postgres';

/** The newest Debian server bin dir (/usr/lib/postgresql/<v>/bin), if any is installed. */
export async function findPgBinDir(): Promise<string | undefined> {
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => existsSync(path.join(root, v, 'bin', 'postgres')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions.length) return path.join(root, versions[0], 'bin');
  }
  if (hasCommand('pg_config')) {
    const dir = (await run('pg_config', ['--bindir'])).trim();
    if (existsSync(path.join(dir, 'postgres')) && existsSync(path.join(dir, 'initdb'))) return dir;
  }
  return undefined;
}

const isRoot = () => process.getuid?.() === 0;

/** Postgres refuses to run as root: as root we run it as Debian's `postgres` user. */
async function runAs(): Promise<{ uid: number; gid: number } | undefined> {
  if (!isRoot()) return undefined;
  const uid = Number((await run('id', ['-u', 'postgres'], { what: 'looking up the postgres user' })).trim());
  const gid = Number((await run('id', ['-g', 'postgres'])).trim());
  return { uid, gid };
}

async function installServer(log: (m: string) => void): Promise<void> {
  if (!isRoot()) {
    throw new Error(
      'postgres: the PostgreSQL server is not installed. Install it with `sudo apt-get install -y postgresql` ' +
        '(Debian/Ubuntu), or point POSTGRES_URL at a server of your own.',
    );
  }
  log('postgres: server binaries missing, installing Debian package postgresql (apt-get)');
  // Debian would otherwise create and start its own "main" cluster on 5432; we run a private one.
  const conf = '/etc/postgresql-common/createcluster.conf';
  if (!existsSync(conf)) {
    mkdirSync(path.dirname(conf), { recursive: true });
    writeFileSync(conf, 'create_main_cluster = false\n');
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await run('apt-get', ['update', '-q'], { env, what: 'apt-get update' });
  await run('apt-get', ['install', '-y', '-q', '-o', 'Dpkg::Options::=--force-confold', 'postgresql'], { env, what: 'apt-get install postgresql' });
}

async function chownTree(dir: string, owner: { uid: number; gid: number }): Promise<void> {
  await run('chown', ['-R', `${owner.uid}:${owner.gid}`, dir]);
}

/**
 * A postmaster that runs on our data directory though our pid file does not name it (a crashed
 * `up`, or two at once): take it over rather than start a second one that would fail.
 */
function adoptPostmaster(): number | undefined {
  const file = path.join(DATA_DIR, 'postmaster.pid');
  if (!existsSync(file)) return undefined;
  const [pidLine, , , portLine] = readFileSync(file, 'utf8').split('\n');
  const pid = Number(pidLine);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid) || !cmdline(pid).includes('postgres')) return undefined;
  writeFileSync(pidFile(NAME), `${pid}\n`);
  writeFileSync(PORT_FILE, String(Number(portLine)));
  return pid;
}

export const postgres: NativeService = {
  name: NAME,

  async prepare(log) {
    if (!(await findPgBinDir())) await installServer(log);
  },

  async up(log) {
    const bin = await findPgBinDir();
    if (!bin) throw new Error('postgres: server binaries not found after install (looked in /usr/lib/postgresql/*/bin)');
    const owner = await runAs();
    const { user, password, database } = DEFAULTS.postgres;

    let pid = runningPid(NAME, 'postgres') ?? adoptPostmaster();
    let port = readPort(PORT_FILE, 0);
    if (!pid) {
      mkdirSync(PG_DIR, { recursive: true });
      if (!existsSync(path.join(DATA_DIR, 'PG_VERSION'))) {
        log('postgres: initdb (private cluster under .stack/pg)');
        const pwfile = path.join(PG_DIR, 'pwfile');
        writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
        if (owner) {
          chownSync(PG_DIR, owner.uid, owner.gid);
          chownSync(pwfile, owner.uid, owner.gid);
        }
        await run(path.join(bin, 'initdb'), ['-D', DATA_DIR, '-U', user, `--pwfile=${pwfile}`, '--auth=scram-sha-256', '-E', 'UTF8', '--no-locale'], {
          ...owner,
          what: 'postgres initdb',
        });
      } else if (owner) {
        await chownTree(PG_DIR, owner);
      }
      // The port it had before, if any: clients that outlive a restart keep finding it.
      port = await freePort(port || DEFAULTS.postgres.port);
      // A crashed postmaster leaves its pid file; a stale one blocks the start.
      const stale = path.join(DATA_DIR, 'postmaster.pid');
      if (existsSync(stale)) {
        const old = Number(readFileSync(stale, 'utf8').split('\n')[0]);
        if (!isAlive(old)) await run('rm', ['-f', stale]);
      }
      log(`postgres: starting on 127.0.0.1:${port}`);
      pid = startDetached(NAME, path.join(bin, 'postgres'), ['-D', DATA_DIR, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-k', ''], {
        ...owner,
        cwd: PG_DIR,
      });
      writeFileSync(PORT_FILE, String(port));
    }
    const started = pid;
    const adminUrl = `postgres://${user}:${password}@127.0.0.1:${port}/postgres`;
    await waitUntil('postgres', () => probePostgres(adminUrl), 60_000, () =>
      isAlive(started) ? undefined : `the server exited; last lines of .stack/logs/postgres.log:\n${logTail(NAME)}`,
    );
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    try {
      const exists = await client.query('select 1 from pg_database where datname = $1', [database]);
      if (exists.rowCount === 0) await client.query(`create database "${database}"`);
    } finally {
      await client.end();
    }
    const url = `postgres://${user}:${password}@127.0.0.1:${port}/${database}`;
    await waitUntil('postgres', () => probePostgres(url), 10_000);
    return url;
  },

  // SIGINT is Postgres's "fast" shutdown: sessions are ended, data is flushed.
  down: () => stopService(NAME, runningPid(NAME, 'postgres') ?? adoptPostmaster(), 30_000, 'SIGINT'),

  async status(): Promise<ServiceState> {
    const port = readPort(PORT_FILE, DEFAULTS.postgres.port);
    const { user, password, database } = DEFAULTS.postgres;
    return serviceState(port, runningPid(NAME, 'postgres'), () => probePostgres(`postgres://${user}:${password}@127.0.0.1:${port}/${database}`));
  },
};
