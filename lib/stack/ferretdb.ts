/** Native MongoDB wire protocol: FerretDB v1 (SQLite backend) through a small Go launcher. */
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULTS } from '../config';
import { probeMongo } from './probes';
import { STACK_DIR, freePort, hasCommand, isAlive, logTail, run, runningPid, startDetached, stopService, readPort, serviceState, waitUntil } from './proc';
import type { NativeService, ServiceState } from './service';

const NAME = 'ferretdb';
const MARKER = 'ferretdb-launcher';
const SRC = path.resolve(__dirname, '..', '..', 'stack', 'ferretdb');
const BIN = path.join(STACK_DIR, 'bin', MARKER);
const DATA = path.join(STACK_DIR, 'ferretdb');
const PORT_FILE = path.join(DATA, 'port');

/** FerretDB's SQLite backend has no SCRAM, so the native URL carries no credentials. */
const urlFor = (port: number) => `mongodb://127.0.0.1:${port}/`;

function binaryIsFresh(): boolean {
  if (!existsSync(BIN)) return false;
  const built = statSync(BIN).mtimeMs;
  return ['main.go', 'go.mod', 'go.sum'].every((f) => statSync(path.join(SRC, f)).mtimeMs <= built);
}

export const ferretdb: NativeService = {
  name: NAME,

  async prepare(log) {
    if (binaryIsFresh()) return;
    if (!hasCommand('go')) throw new Error('ferretdb: `go` not found. Install Go 1.24 or newer (Debian: apt-get install -y golang), or set MONGO_URL.');
    log('ferretdb: building the launcher (go build; first time downloads FerretDB v1 from the Go module proxy)');
    mkdirSync(path.dirname(BIN), { recursive: true });
    await run('go', ['build', '-trimpath', '-o', BIN, '.'], { cwd: SRC, what: 'ferretdb: go build', env: { ...process.env, CGO_ENABLED: '0' } });
  },

  async up(log) {
    let pid = runningPid(NAME, MARKER);
    let port = readPort(PORT_FILE, 0);
    if (!pid) {
      // The port it had before, if any: clients that outlive a restart keep finding it.
      port = await freePort(port || DEFAULTS.mongo.port);
      mkdirSync(DATA, { recursive: true });
      log(`ferretdb: starting on 127.0.0.1:${port}`);
      pid = startDetached(NAME, BIN, ['--listen-addr', `127.0.0.1:${port}`, '--sqlite-dir', path.join(DATA, 'data')]);
      writeFileSync(PORT_FILE, String(port));
    }
    const started = pid;
    const url = urlFor(port);
    await waitUntil('ferretdb', () => probeMongo(url), 60_000, () =>
      isAlive(started) ? undefined : `the server exited; last lines of .stack/logs/ferretdb.log:\n${logTail(NAME)}`,
    );
    return url;
  },

  down: () => stopService(NAME, runningPid(NAME, MARKER), 15_000),

  async status(): Promise<ServiceState> {
    const port = readPort(PORT_FILE, DEFAULTS.mongo.port);
    return serviceState(port, runningPid(NAME, MARKER), () => probeMongo(urlFor(port)));
  },
};
