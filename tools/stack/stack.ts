/**
 * The stack: Kafka, PostgreSQL and a MongoDB-wire server, from your own services, Docker Compose,
 * or native processes started here (tools/stack/mode.ts chooses). Whatever is used, its addresses
 * end up in the stack's env file for the code, the CLIs and the tests.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  DEFAULT_KAFKA_BROKERS,
  DEFAULT_MONGO_URL,
  DEFAULT_POSTGRES_URL,
  DEFAULTS,
  DOTENV_FILE,
  PROJECT_ROOT,
  STACK_ENV_FILE,
  readEnvFile,
  redactUrl,
} from '../../lib/config';
import { apicurio, apicurioSpec } from './apicurio';
import { StackError, StackUpError, toStackError } from './errors';
import { ferretdb } from './ferretdb';
import { kafka } from './kafka';
import {
  ENDPOINT_OF,
  STACK_ENV_KEYS,
  chooseMode,
  externalCandidate,
  type Endpoint,
  type GivenSettings,
  type Mode,
  type ModeInputs,
  type StackEnv,
} from './mode';
import { postgres } from './postgres';
import { probeKafka, probeMongo, probePostgres } from './probes';
import { STACK_DIR, run, shownPath } from './proc';
import { findProcess, type NativeService, type ServiceState } from './service';
import { downUis, upUis } from './uis';

export type { Mode, StackEnv } from './mode';
export type { ServiceState } from './service';
export { StackError, StackUpError } from './errors';
export { uiStatus } from './uis';

type Log = (m: string) => void;

export const NATIVE_SERVICES: NativeService[] = [postgres, kafka, ferretdb];
const MODE_FILE = path.join(STACK_DIR, 'mode');
const COMPOSE_FILE = path.join(PROJECT_ROOT, 'docker-compose.yml');
const COMPOSE_ENV: StackEnv = {
  KAFKA_BROKERS: DEFAULT_KAFKA_BROKERS,
  POSTGRES_URL: DEFAULT_POSTGRES_URL,
  MONGO_URL: DEFAULT_MONGO_URL,
};

/** What `up` used, and why. */
export interface UpResult {
  mode: Mode;
  env: StackEnv;
  /** One line: why this mode. */
  reason: string;
}

/** What `up` is asked for beyond the stack. */
export interface UpOptions {
  /** Also pgAdmin and mongo-express, natively (tools/stack/uis.ts); compose has its own. */
  uis?: boolean;
  /** Also a Confluent-compatible schema registry (Apicurio, natively, whatever the mode; tools/stack/apicurio.ts). */
  registry?: boolean;
}

/** The local signing key of re-sent records (SINK_IDENTITY_KEY): the one the env file holds, else a new one. */
function identityKey(): string {
  return readEnvFile(STACK_ENV_FILE).SINK_IDENTITY_KEY || randomBytes(32).toString('base64url');
}

function writeEnv(mode: Mode, env: StackEnv, registryUrl?: string): void {
  mkdirSync(STACK_DIR, { recursive: true });
  const lines = [
    `# written by \`npm run stack -- up\` (${mode} mode); loaded by lib/config.ts`,
    `STACK_MODE=${mode}`,
    `KAFKA_BROKERS=${env.KAFKA_BROKERS}`,
    `KAFKA_TOPIC=${DEFAULTS.kafka.topic}`,
    `POSTGRES_URL=${env.POSTGRES_URL}`,
    `MONGO_URL=${env.MONGO_URL}`,
    `SINK_IDENTITY_KEY=${identityKey()}`,
    ...(registryUrl ? [`SCHEMA_REGISTRY_URL=${registryUrl}`] : []),
    '',
  ];
  writeFileSync(STACK_ENV_FILE, lines.join('\n'), { mode: 0o600 });
  writeFileSync(MODE_FILE, mode);
}

/** The mode the last `up` used, if any. */
export function currentMode(): Mode | undefined {
  return existsSync(MODE_FILE) ? (readFileSync(MODE_FILE, 'utf8').trim() as Mode) : undefined;
}

/** The settings the last `up` wrote, if the env file holds all three. */
function savedEnv(): StackEnv | undefined {
  const file = readEnvFile(STACK_ENV_FILE);
  return STACK_ENV_KEYS.every((k) => file[k]) ? (file as unknown as StackEnv) : undefined;
}

/**
 * The three settings from `env`, else from `.env`. The stack's own env file is not read here: it
 * records what `up` chose, and {@link chooseMode} reads it as such.
 */
export function givenSettings(env: NodeJS.ProcessEnv = process.env, dotenvFile = DOTENV_FILE): GivenSettings {
  const dotenv = readEnvFile(dotenvFile);
  const given: GivenSettings = {};
  for (const key of STACK_ENV_KEYS) {
    if (env[key]) given[key] = { value: env[key], source: 'environment' };
    else if (dotenv[key]) given[key] = { value: dotenv[key], source: '.env' };
  }
  return given;
}

/** The services that do not answer at `env`; with `create`, Kafka's topic is created when missing. */
async function unreachable(env: StackEnv, create = false): Promise<Endpoint[]> {
  const topic = process.env.KAFKA_TOPIC || DEFAULTS.kafka.topic;
  const partitions = create ? { partitions: DEFAULTS.kafka.partitions } : undefined;
  // Probes run at once; each promise is caught where it is made, so none rejects unobserved.
  const checks: [Endpoint, Promise<boolean>][] = [
    ['kafka', probeKafka(env.KAFKA_BROKERS, topic, partitions).catch(() => false)],
    ['postgres', probePostgres(env.POSTGRES_URL).catch(() => false)],
    ['mongo', probeMongo(env.MONGO_URL).catch(() => false)],
  ];
  const failed: Endpoint[] = [];
  for (const [name, p] of checks) if (!(await p)) failed.push(name);
  return failed;
}

const dockerAnswers = () => spawnSync('docker', ['info'], { stdio: 'ignore', timeout: 10_000 }).status === 0;

/** Everything the choice of mode depends on; probes the services a choice would take as they are. */
async function modeInputs(): Promise<ModeInputs> {
  const saved = { mode: currentMode(), env: savedEnv() };
  const given = givenSettings();
  const envFile = shownPath(STACK_ENV_FILE);
  const candidate = externalCandidate(given, saved, envFile);
  const failed = candidate ? await unreachable(candidate.env, true) : [];
  return { given, saved, unreachable: failed, docker: dockerAnswers, envFile };
}

async function dockerUp(log: Log): Promise<StackEnv> {
  log('docker compose up -d --wait');
  await run('docker', ['compose', '-f', COMPOSE_FILE, 'up', '-d', '--wait'], {
    what: 'docker compose up',
    passthrough: true,
  });
  const failed = await unreachable(COMPOSE_ENV, true);
  if (failed.length) {
    const errors = failed.map(
      (s) => new StackError(s, 'docker compose reported healthy but the service does not answer'),
    );
    throw new StackUpError(errors.map((e) => e.message).join('; '), errors);
  }
  return COMPOSE_ENV;
}

/** Prepares (installs, downloads, builds) the three at once, then starts them. */
async function nativeUp(log: Log): Promise<StackEnv> {
  const results = await Promise.allSettled(
    NATIVE_SERVICES.map(async (s) => {
      await s.prepare(log);
      return s.up(log);
    }),
  );
  const errors = results.flatMap((r, i) =>
    r.status === 'rejected' ? [toStackError(NATIVE_SERVICES[i].name, r.reason)] : [],
  );
  if (errors.length) {
    throw new StackUpError(`stack up failed:\n${errors.map((e) => `  ${e.message}`).join('\n')}`, errors);
  }
  const [pgUrl, brokers, mongoUrl] = results.map((r) => (r as PromiseFulfilledResult<string>).value);
  return { KAFKA_BROKERS: brokers, POSTGRES_URL: pgUrl, MONGO_URL: mongoUrl };
}

const describeEnv = (env: StackEnv) => STACK_ENV_KEYS.map((k) => `${ENDPOINT_OF[k]} ${redactUrl(env[k])}`).join(', ');

/**
 * The schema registry's URL: started (idempotent) when `asked`; else kept when an earlier
 * `up --registry` started it and it still runs, so a plain `up` does not drop it from the env file.
 */
async function registryUp(log: Log, asked: boolean): Promise<string | undefined> {
  if (!asked && !findProcess(apicurioSpec)) return undefined;
  const started = Date.now();
  try {
    await apicurio.prepare(log);
    const url = await apicurio.up(log);
    if (asked) log(`apicurio: ready in ${((Date.now() - started) / 1000).toFixed(1)}s`);
    return url;
  } catch (e) {
    const error = toStackError('apicurio', e);
    throw new StackUpError(`stack up failed:\n  ${error.message}`, [error]);
  }
}

/**
 * Brings the stack up (idempotent) and writes the stack's env file. Logs one line saying which
 * services are used and why. Throws a {@link StackUpError} (holding each service's
 * {@link StackError}) when a service cannot be used, rather than starting another stack beside it.
 * With `uis`, then starts the web UIs against it (a UI that fails leaves the stack up).
 */
export async function up(log: Log, options: UpOptions = {}): Promise<UpResult> {
  const started = Date.now();
  const choice = chooseMode(await modeInputs());
  if (!choice.ok) {
    const errors = choice.unreachable.map((s) => new StackError(s, 'does not answer', { retriable: true }));
    throw new StackUpError(`stack up: ${choice.reason}`, errors);
  }
  const { mode, reason } = choice;
  const env = choice.env ?? (mode === 'docker' ? await dockerUp(log) : await nativeUp(log));
  const registry = await registryUp(log, !!options.registry);
  writeEnv(mode, env, registry);
  const took = mode === 'external' ? '' : ` in ${((Date.now() - started) / 1000).toFixed(1)}s`;
  log(`${mode} stack up${took}: ${describeEnv(env)}${registry ? `, registry ${registry}` : ''} (${reason})`);
  if (options.uis) await upUis(mode, log);
  return { mode, env, reason };
}

/** Stops what `up` started; `purge` also deletes the stack folder (data, logs, downloads). */
export async function down(log: Log, purge = false): Promise<void> {
  const mode = currentMode();
  // The UIs first: they are clients of the stores. Started in any mode but docker; a no-op if none.
  await downUis(log);
  // The registry, natively in every mode (a no-op when `up --registry` did not start one).
  if (await apicurio.down()) log('apicurio: stopped');
  if (mode === 'docker') {
    const args = ['compose', '-f', COMPOSE_FILE, 'down', ...(purge ? ['--volumes'] : [])];
    await run('docker', args, { what: 'docker compose down', passthrough: true });
  } else {
    // Processes of a native stack used before an external one are stopped too (none: a no-op).
    // Kafka first: it may still be writing group offsets while the others go.
    for (const s of [kafka, ferretdb, postgres]) {
      if (await s.down()) log(`${s.name}: stopped`);
    }
  }
  if (purge) {
    rmSync(STACK_DIR, { recursive: true, force: true });
    log(`${shownPath(STACK_DIR)} deleted`);
    return;
  }
  rmSync(STACK_ENV_FILE, { force: true });
  // Nothing of yours was started or stopped: forgetting them is all `down` can do.
  if (mode === 'external') rmSync(MODE_FILE, { force: true });
}

/**
 * `down --uis`: stops only the native UIs (the stack keeps running); `purge` also deletes their
 * installs and data. Compose's own UIs stay with compose.
 */
export async function downUisOnly(log: Log, purge = false): Promise<void> {
  await downUis(log, purge);
  if (currentMode() === 'docker') {
    log('uis: compose runs its own; `docker compose stop pgadmin mongo-express kafka-ui` stops them');
  }
}

/**
 * Each service's state. Native (or no `up` yet): the address from the port file, else the
 * default, is probed whoever serves it, and `pid` is set only for this stack's processes.
 * External and docker: the addresses in the env file are probed. The UIs are not among them
 * (see {@link uiStatus}).
 */
export async function status(): Promise<ServiceState[]> {
  const mode = currentMode();
  const env = savedEnv();
  const registry = await registryStatus();
  if ((mode === 'external' || mode === 'docker') && env) {
    const failed = await unreachable(env);
    const states = STACK_ENV_KEYS.map((k): ServiceState => {
      const name = ENDPOINT_OF[k];
      return { name, mode, address: redactUrl(env[k]), up: !failed.includes(name) };
    });
    return [...states, ...registry];
  }
  return [...(await Promise.all(NATIVE_SERVICES.map((s) => s.status()))), ...registry];
}

/** The registry's state while `up --registry` asked for it (the env file names it) or it runs; else none. */
async function registryStatus(): Promise<ServiceState[]> {
  const asked = !!readEnvFile(STACK_ENV_FILE).SCHEMA_REGISTRY_URL;
  return asked || findProcess(apicurioSpec) ? [await apicurio.status()] : [];
}
