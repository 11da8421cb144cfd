/**
 * Native mongo-express (`npm run stack -- up --uis`): the npm package in its own folder under the
 * stack folder (not the project's dependencies), on 127.0.0.1:8081 against the stack's MONGO_URL,
 * without basic auth, as the compose service runs it.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULTS } from '../../lib/config';
import { probeHttp } from './probes';
import { STACK_DIR, hasCommand, runLogged, shownPath } from './proc';
import { defineNativeService, type NativeServiceSpec } from './service';
import { stackSetting } from './ui-settings';

/**
 * 1.0.0: the newest release that installs from the npm registry alone and runs. 1.0.1 and 1.0.2
 * depend on a GitHub repository and on a Yarn patch (`patch:` protocol), which npm cannot fetch,
 * and 1.0.2 ships without its built front-end assets.
 */
export const MONGO_EXPRESS_VERSION = '1.0.0';
const DIR = path.join(STACK_DIR, 'mongo-express');
const PACKAGE = path.join(DIR, 'node_modules', 'mongo-express');
/** Its entry point: in its command line, so it is also the marker. */
const APP = path.join(PACKAGE, 'app.js');
/** The MONGO_URL it was started with: a different one in the env file means a restart. */
const STARTED_WITH = path.join(DIR, 'started-with');

/** The installed version, if any. */
function installedVersion(): string | undefined {
  const file = path.join(PACKAGE, 'package.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { version?: string }).version : undefined;
}

/**
 * mongo-express's environment: `mongoUrl` (no other ME_CONFIG_* or VCAP_* setting of ours leaks in:
 * ME_CONFIG_MONGODB_SERVER would override the URL), all databases listed, no basic auth (an empty
 * user name turns it off), bound to loopback, fresh cookie and session secrets.
 */
export function mongoExpressEnv(base: NodeJS.ProcessEnv, mongoUrl: string): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(base).filter(([k]) => !/^(ME_CONFIG_|VCAP_)/.test(k)));
  const secret = () => randomBytes(24).toString('hex');
  return {
    ...env,
    NODE_ENV: 'production',
    VCAP_APP_HOST: '127.0.0.1',
    ME_CONFIG_MONGODB_URL: mongoUrl,
    ME_CONFIG_MONGODB_ENABLE_ADMIN: 'true',
    ME_CONFIG_BASICAUTH_USERNAME: '',
    ME_CONFIG_SITE_COOKIESECRET: secret(),
    ME_CONFIG_SITE_SESSIONSECRET: secret(),
  };
}

/** Whether a running mongo-express serves another MONGO_URL than the env file's (it must restart). */
export function mongoExpressStale(): boolean {
  if (!existsSync(STARTED_WITH)) return false;
  return readFileSync(STARTED_WITH, 'utf8') !== stackSetting('MONGO_URL');
}

export const mongoExpressSpec: NativeServiceSpec = {
  name: 'mongo-express',
  marker: APP,
  defaultPort: DEFAULTS.ui.mongoExpress, // compose's port
  portFile: path.join(DIR, 'port'),
  startTimeoutMs: 60_000,
  stop: { graceMs: 10_000 },

  async prepare(log) {
    if (installedVersion() === MONGO_EXPRESS_VERSION) return;
    if (!hasCommand('npm')) throw new Error('`npm` not found (it comes with Node.js).');
    log(`installing mongo-express ${MONGO_EXPRESS_VERSION} from npm into ${shownPath(DIR)}`);
    mkdirSync(DIR, { recursive: true });
    // Its own package.json: npm installs here, never into the project's node_modules.
    const manifest = { private: true, dependencies: { 'mongo-express': MONGO_EXPRESS_VERSION } };
    writeFileSync(path.join(DIR, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    const args = ['install', '--omit=dev', '--no-audit', '--no-fund', '--no-package-lock', '--loglevel=error'];
    await runLogged('npm', args, 'mongo-express-install', {
      cwd: DIR,
      what: `npm install mongo-express@${MONGO_EXPRESS_VERSION}`,
      timeoutMs: 10 * 60_000,
    });
    if (installedVersion() !== MONGO_EXPRESS_VERSION) throw new Error(`npm finished but ${shownPath(APP)} is missing`);
  },

  async beforeStart() {
    writeFileSync(STARTED_WITH, stackSetting('MONGO_URL'), { mode: 0o600 });
  },

  command: (port) => ({
    cmd: process.execPath,
    args: [APP, '--port', String(port)],
    options: { cwd: DIR, env: mongoExpressEnv(process.env, stackSetting('MONGO_URL')) },
  }),
  url: (port) => `http://127.0.0.1:${port}/`,
  // Its own stylesheet, served once it has connected to Mongo. Not the home page: that lists the
  // databases with their sizes, which FerretDB's SQLite backend can take seconds to compute.
  probe: (port) => probeHttp(`http://127.0.0.1:${port}/public/css/style.css`, '.documentlist'),
};

export const mongoExpress = defineNativeService(mongoExpressSpec);

/** The folder of the package and its state (`down --uis --purge` deletes it). */
export const MONGO_EXPRESS_DIR = DIR;
