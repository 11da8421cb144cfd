/** Native PostgreSQL: Debian's server binaries, a private cluster in the stack folder's pg/. */
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { DEFAULTS } from '../../lib/config';
import { aptInstall } from './apt';
import { probePostgres } from './probes';
import { STACK_DIR, cmdline, hasCommand, isAlive, run, shownPath, waitUntil } from './proc';
import { defineNativeService, type NativeServiceSpec } from './service';

const PG_DIR = path.join(STACK_DIR, 'pg');
const DATA_DIR = path.join(PG_DIR, 'data');
const PORT_FILE = path.join(PG_DIR, 'port');
const POSTMASTER_PID = path.join(DATA_DIR, 'postmaster.pid');
/** The postmaster's `-D` argument: only a server of this stack's cluster has it in its command line. */
const MARKER = DATA_DIR;

const { user, password, database } = DEFAULTS.postgres;
/** The native server's URL, for our database or another one on it. */
const urlFor = (port: number, db: string = database) => `postgres://${user}:${password}@127.0.0.1:${port}/${db}`;

interface Owner {
  uid: number;
  gid: number;
}

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
async function runAs(): Promise<Owner | undefined> {
  if (!isRoot()) return undefined;
  const uid = Number((await run('id', ['-u', 'postgres'], { what: 'looking up the postgres user' })).trim());
  const gid = Number((await run('id', ['-g', 'postgres'])).trim());
  return { uid, gid };
}

async function installServer(log: (m: string) => void): Promise<void> {
  if (!isRoot()) {
    throw new Error(
      'the PostgreSQL server is not installed. Install it with `sudo apt-get install -y postgresql` ' +
        '(Debian/Ubuntu), or point POSTGRES_URL at a server of your own.',
    );
  }
  log('server binaries missing');
  // Debian would otherwise create and start its own "main" cluster on 5432; we run a private one.
  const conf = '/etc/postgresql-common/createcluster.conf';
  if (!existsSync(conf)) {
    mkdirSync(path.dirname(conf), { recursive: true });
    writeFileSync(conf, 'create_main_cluster = false\n');
  }
  await aptInstall(['postgresql'], log);
}

async function chownTree(dir: string, owner: Owner): Promise<void> {
  await run('chown', ['-R', `${owner.uid}:${owner.gid}`, dir]);
}

/**
 * A postmaster that runs on our data directory though our pid file does not name it (a crashed
 * `up`, or two at once): the stack takes it over rather than start a second one that would fail.
 */
function orphanPostmaster(): { pid: number; port: number } | undefined {
  if (!existsSync(POSTMASTER_PID)) return undefined;
  const [pidLine, , , portLine] = readFileSync(POSTMASTER_PID, 'utf8').split('\n');
  const pid = Number(pidLine);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid) || !cmdline(pid).includes(MARKER)) return undefined;
  return { pid, port: Number(portLine) };
}

/** A crashed postmaster leaves its pid file behind, and a stale one blocks the start. */
function removeStalePidFile(): void {
  if (!existsSync(POSTMASTER_PID)) return;
  const old = Number(readFileSync(POSTMASTER_PID, 'utf8').split('\n')[0]);
  if (!isAlive(old)) rmSync(POSTMASTER_PID, { force: true });
}

async function requireBinDir(): Promise<string> {
  const bin = await findPgBinDir();
  if (!bin) throw new Error('server binaries not found after install (looked in /usr/lib/postgresql/*/bin)');
  return bin;
}

async function initdb(bin: string, owner: Owner | undefined, log: (m: string) => void): Promise<void> {
  log(`initdb (private cluster under ${shownPath(PG_DIR)})`);
  const pwfile = path.join(PG_DIR, 'pwfile');
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  if (owner) {
    chownSync(PG_DIR, owner.uid, owner.gid);
    chownSync(pwfile, owner.uid, owner.gid);
  }
  const args = ['-D', DATA_DIR, '-U', user, `--pwfile=${pwfile}`, '--auth=scram-sha-256', '-E', 'UTF8', '--no-locale'];
  await run(path.join(bin, 'initdb'), args, { ...owner, what: 'initdb' });
}

async function ensureDatabase(port: number): Promise<void> {
  const client = new pg.Client({ connectionString: urlFor(port, 'postgres') });
  await client.connect();
  try {
    const exists = await client.query('select 1 from pg_database where datname = $1', [database]);
    if (exists.rowCount === 0) await client.query(`create database "${database}"`);
  } finally {
    await client.end();
  }
}

export const postgresSpec: NativeServiceSpec = {
  name: 'postgres',
  marker: MARKER,
  defaultPort: DEFAULTS.postgres.port,
  portFile: PORT_FILE,
  startTimeoutMs: 60_000,
  // SIGINT is Postgres's "fast" shutdown: sessions are ended, data is flushed.
  stop: { graceMs: 30_000, signal: 'SIGINT' },

  async prepare(log) {
    if (!(await findPgBinDir())) await installServer(log);
  },

  async beforeStart(_port, log) {
    const bin = await requireBinDir();
    const owner = await runAs();
    mkdirSync(PG_DIR, { recursive: true });
    if (!existsSync(path.join(DATA_DIR, 'PG_VERSION'))) await initdb(bin, owner, log);
    else if (owner) await chownTree(PG_DIR, owner);
    removeStalePidFile();
  },

  async command(port) {
    const args = ['-D', DATA_DIR, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-k', ''];
    return { cmd: path.join(await requireBinDir(), 'postgres'), args, options: { ...(await runAs()), cwd: PG_DIR } };
  },
  url: (port) => urlFor(port),
  probe: (port) => probePostgres(urlFor(port)),
  // Our database may not exist yet: the server is ready when the maintenance database answers.
  readyProbe: (port) => probePostgres(urlFor(port, 'postgres')),
  async afterReady(port) {
    await ensureDatabase(port);
    await waitUntil(() => probePostgres(urlFor(port)), 10_000);
  },
  orphan: orphanPostmaster,
};

export const postgres = defineNativeService(postgresSpec);
