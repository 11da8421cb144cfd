/**
 * Native pgAdmin 4 (`npm run stack -- up --uis`): the PyPI package in a venv under the stack
 * folder, in desktop mode (one local user, no login) on 127.0.0.1:5050, with the stack's Postgres
 * registered from docker/pgadmin/servers.json, as the compose service has it.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULTS, PROJECT_ROOT } from '../../lib/config';
import { probeHttp } from './probes';
import { STACK_DIR, hasCommand, lastLine, runLogged, shownPath } from './proc';
import { defineNativeService, type NativeServiceSpec } from './service';
import { stackSetting } from './ui-settings';

/** Pinned, so that what the UI looks like changes only when we choose. */
export const PGADMIN_VERSION = '9.18';
const DIR = path.join(STACK_DIR, 'pgadmin');
const VENV = path.join(DIR, 'venv');
const PYTHON = path.join(VENV, 'bin', 'python3');
/** The server's script: in its command line, so it is also the marker. */
const SERVER = path.join(VENV, 'bin', 'pgadmin4');
const CLI = path.join(VENV, 'bin', 'pgadmin4-cli');
const INSTALLED = path.join(VENV, `.pgadmin4-${PGADMIN_VERSION}-installed`);
/** Only config_local.py: the folder is put on PYTHONPATH, where pgAdmin looks for it. */
const CONFIG_DIR = path.join(DIR, 'config');
const DATA = path.join(DIR, 'data');
const PGPASS = path.join(DIR, 'pgpass');
const SERVERS_FILE = path.join(DIR, 'servers.json');
const DUMP_FILE = path.join(DIR, 'servers.dump.json');
/** What was last registered: registering again (two pgAdmin CLI runs, ~12 s) only when it changes. */
const REGISTERED = path.join(DIR, 'registered.json');
const TEMPLATE = path.join(PROJECT_ROOT, 'docker', 'pgadmin', 'servers.json');

/** One server of pgAdmin's servers.json (`load-servers` / `dump-servers`). */
export type PgadminServer = Record<string, unknown> & { Name: string };
export interface ServersFile {
  Servers: Record<string, PgadminServer>;
}

/** pgAdmin's settings: desktop mode (no login, no master password), loopback, data in the stack folder. */
export function configLocal(port: number, dataDir: string): string {
  const py = (v: unknown) => JSON.stringify(v); // a JSON string or number is a Python literal
  return [
    '# written by `npm run stack -- up --uis`; pgAdmin finds it on PYTHONPATH',
    'SERVER_MODE = False',
    'MASTER_PASSWORD_REQUIRED = False',
    `DATA_DIR = ${py(dataDir)}`,
    "DEFAULT_SERVER = '127.0.0.1'",
    `DEFAULT_SERVER_PORT = ${py(port)}`,
    // No calls to pgadmin.org, no OS keyring (none on a headless machine), and only our server.
    'UPGRADE_CHECK_ENABLED = False',
    'USE_OS_SECRET_STORAGE = False',
    'AUTO_DISCOVER_SERVERS = False',
    '',
  ].join('\n');
}

const pgpassField = (s: string) => s.replace(/[\\:]/g, (c) => `\\${c}`);

/** The URL's parts pgAdmin needs (host without IPv6 brackets, port, user, password, database, sslmode). */
export function postgresTarget(url: string) {
  const u = new URL(url);
  const user = decodeURIComponent(u.username);
  return {
    host: u.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1',
    port: Number(u.port || 5432),
    user,
    password: decodeURIComponent(u.password),
    database: decodeURIComponent(u.pathname.slice(1)) || user,
    sslmode: u.searchParams.get('sslmode') ?? undefined,
  };
}

/** A libpq password file line for the URL: any database, `:` and `\` escaped. */
export function pgpassLine(url: string): string {
  const t = postgresTarget(url);
  return `${[t.host, String(t.port), '*', t.user, t.password].map(pgpassField).join(':')}\n`;
}

/** The compose file's server entry, pointed at `url`, its password read from `passfile`. */
export function pgadminServer(template: ServersFile, url: string, passfile: string): PgadminServer {
  const first = Object.values(template.Servers)[0];
  const t = postgresTarget(url);
  const server: PgadminServer = { ...first, Host: t.host, Port: t.port, MaintenanceDB: t.database, Username: t.user };
  if (t.sslmode) server.SSLMode = t.sslmode;
  return { ...server, PassFile: passfile };
}

/** `dumped` (what pgAdmin holds) with `ours` instead of any server of the same name; ours first. */
export function mergeServers(dumped: ServersFile, ours: PgadminServer): ServersFile {
  const others = Object.values(dumped.Servers ?? {}).filter((s) => s.Name !== ours.Name);
  const entries = [ours, ...others].map((s, i): [string, PgadminServer] => [String(i + 1), s]);
  return { Servers: Object.fromEntries(entries) };
}

/** The count of servers in `load-servers`' summary line, if it printed one (it exits 0 on errors). */
export function serversAdded(output: string): number | undefined {
  const m = /Added \d+ Server Group\(s\) and (\d+) Server\(s\)/.exec(output);
  return m ? Number(m[1]) : undefined;
}

/** The environment of pgAdmin and its CLI: our config_local.py, no keyring probe (it can hang on D-Bus). */
const pgadminEnv = () => ({
  ...process.env,
  PYTHONPATH: CONFIG_DIR,
  PYTHON_KEYRING_BACKEND: 'keyring.backends.null.Keyring',
  COLUMNS: '200',
});

async function pgadminCli(args: string[]): Promise<string> {
  const what = `pgadmin4-cli ${args[0]}`;
  return runLogged(PYTHON, [CLI, ...args], 'pgadmin-cli', { env: pgadminEnv(), cwd: DIR, what, timeoutMs: 120_000 });
}

async function dumpServers(): Promise<ServersFile> {
  rmSync(DUMP_FILE, { force: true });
  const out = await pgadminCli(['dump-servers', DUMP_FILE]);
  if (!existsSync(DUMP_FILE)) throw new Error(`pgadmin4-cli dump-servers wrote nothing: ${lastLine(out)}`);
  return JSON.parse(readFileSync(DUMP_FILE, 'utf8')) as ServersFile;
}

/**
 * Registers the stack's Postgres (and writes its password file) unless that exact entry was
 * registered last time. pgAdmin's CLI can only add or replace all: servers added by hand are
 * dumped and loaded back beside ours.
 */
async function register(log: (m: string) => void): Promise<void> {
  const url = stackSetting('POSTGRES_URL');
  writeFileSync(PGPASS, pgpassLine(url), { mode: 0o600 });
  const template = JSON.parse(readFileSync(TEMPLATE, 'utf8')) as ServersFile;
  const ours = pgadminServer(template, url, PGPASS);
  const wanted = JSON.stringify(ours);
  if (existsSync(REGISTERED) && readFileSync(REGISTERED, 'utf8') === wanted) return;
  const merged = mergeServers(await dumpServers(), ours);
  writeFileSync(SERVERS_FILE, JSON.stringify(merged, null, 2));
  const out = await pgadminCli(['load-servers', SERVERS_FILE, '--replace']);
  if (serversAdded(out) !== Object.keys(merged.Servers).length) {
    throw new Error(`pgadmin4-cli load-servers did not register the server: ${lastLine(out)}`);
  }
  writeFileSync(REGISTERED, wanted);
  log(`registered "${ours.Name}" (${String(ours.Host)}:${String(ours.Port)}, password in ${shownPath(PGPASS)})`);
}

async function install(log: (m: string) => void): Promise<void> {
  if (!hasCommand('python3')) {
    throw new Error('`python3` not found. Install Python 3.9+ with venv (Debian: apt-get install -y python3-venv).');
  }
  mkdirSync(DIR, { recursive: true });
  if (!existsSync(path.join(VENV, 'bin', 'pip'))) {
    rmSync(VENV, { recursive: true, force: true }); // a venv left without pip (no ensurepip) is of no use
    const hint = 'Debian: apt-get install -y python3-venv';
    await runLogged('python3', ['-m', 'venv', VENV], 'pgadmin-install', { what: `python3 -m venv (${hint})` });
  }
  log(`installing pgadmin4 ${PGADMIN_VERSION} from PyPI into ${shownPath(VENV)} (first time: about a minute)`);
  const pip = ['-m', 'pip', 'install', '-q', '--disable-pip-version-check', '--timeout', '30'];
  await runLogged(PYTHON, [...pip, `pgadmin4==${PGADMIN_VERSION}`], 'pgadmin-install', {
    what: `pip install pgadmin4==${PGADMIN_VERSION}`,
    timeoutMs: 15 * 60_000,
  });
  writeFileSync(INSTALLED, `${new Date().toISOString()}\n`);
}

export const pgadminSpec: NativeServiceSpec = {
  name: 'pgadmin',
  marker: SERVER,
  defaultPort: DEFAULTS.ui.pgadmin, // compose's port
  portFile: path.join(DIR, 'port'),
  // Its first start creates its own database (about 15 s here).
  startTimeoutMs: 120_000,
  stop: { graceMs: 10_000 },

  async prepare(log) {
    if (!existsSync(INSTALLED)) await install(log);
  },

  async beforeStart(port) {
    mkdirSync(CONFIG_DIR, { recursive: true });
    mkdirSync(DATA, { recursive: true });
    writeFileSync(path.join(CONFIG_DIR, 'config_local.py'), configLocal(port, DATA));
  },

  command: () => ({ cmd: PYTHON, args: [SERVER], options: { cwd: DIR, env: pgadminEnv() } }),
  url: (port) => `http://127.0.0.1:${port}/`,
  probe: (port) => probeHttp(`http://127.0.0.1:${port}/misc/ping`, 'PING'),
  afterReady: (_port, log) => register(log),
};

export const pgadmin = defineNativeService(pgadminSpec);

/** The folder of the venv, pgAdmin's data and settings (`down --uis --purge` deletes it). */
export const PGADMIN_DIR = DIR;
