/** Native MongoDB wire protocol: FerretDB v1 (SQLite backend) through a small Go launcher. */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { DEFAULTS } from '../../lib/config';
import { probeMongo } from './probes';
import { STACK_DIR, hasCommand, run } from './proc';
import { defineNativeService, type NativeServiceSpec } from './service';
import { prepareFerretdbBuild } from './ferretdb-patch';

const MARKER = 'ferretdb-launcher';
const SRC = path.resolve(__dirname, '..', '..', 'stack', 'ferretdb');
const BIN = path.join(STACK_DIR, 'bin', MARKER);
const DATA = path.join(STACK_DIR, 'ferretdb');
/** The patched copy of the FerretDB module and the go.mod that builds the launcher with it. */
const BUILD = path.join(STACK_DIR, 'build', 'ferretdb');
const PATCH = path.join(__dirname, 'ferretdb-patch.ts');

/** FerretDB's SQLite backend has no SCRAM, so the native URL carries no credentials. */
const urlFor = (port: number) => `mongodb://127.0.0.1:${port}/`;

function binaryIsFresh(): boolean {
  if (!existsSync(BIN)) return false;
  const built = statSync(BIN).mtimeMs;
  // The patch is this module's sibling when run from source (a bundle holds it inside).
  const sources = [...['main.go', 'go.mod', 'go.sum'].map((f) => path.join(SRC, f)), PATCH].filter(existsSync);
  return sources.every((f) => statSync(f).mtimeMs <= built);
}

export const ferretdbSpec: NativeServiceSpec = {
  name: 'ferretdb',
  marker: MARKER,
  defaultPort: DEFAULTS.mongo.port,
  portFile: path.join(DATA, 'port'),
  startTimeoutMs: 60_000,
  stop: { graceMs: 15_000 },

  async prepare(log) {
    if (binaryIsFresh()) return;
    if (!hasCommand('go')) {
      throw new Error(
        '`go` not found. Install Go 1.24 or newer (Debian: apt-get install -y golang), or set MONGO_URL.',
      );
    }
    log('building the launcher (go build; first time downloads FerretDB v1 from the Go module proxy)');
    mkdirSync(path.dirname(BIN), { recursive: true });
    const env = { ...process.env, CGO_ENABLED: '0' };
    const module = await run('go', ['mod', 'download', '-json', 'github.com/FerretDB/FerretDB'], {
      cwd: SRC,
      what: 'go mod download',
      env,
    });
    // The launcher builds against a patched copy of FerretDB: `_id` lookups answered from the index.
    const modfile = prepareFerretdbBuild((JSON.parse(module) as { Dir: string }).Dir, SRC, BUILD);
    await run('go', ['build', '-trimpath', `-modfile=${modfile}`, '-o', BIN, '.'], {
      cwd: SRC,
      what: 'go build',
      env,
    });
  },

  async beforeStart() {
    mkdirSync(DATA, { recursive: true });
  },

  command: (port) => ({
    cmd: BIN,
    args: ['--listen-addr', `127.0.0.1:${port}`, '--sqlite-dir', path.join(DATA, 'data')],
  }),
  url: urlFor,
  probe: (port) => probeMongo(urlFor(port)),
};

export const ferretdb = defineNativeService(ferretdbSpec);
