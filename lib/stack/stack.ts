/**
 * The stack: Kafka, PostgreSQL and a MongoDB-wire server, from (in order of preference) the
 * environment, Docker Compose, or native processes started here. Whatever is used, its addresses
 * end up in `.stack/env` for the code, the CLIs and the tests.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_KAFKA_BROKERS, DEFAULT_MONGO_URL, DEFAULT_POSTGRES_URL, DEFAULTS, PROJECT_ROOT, STACK_ENV_FILE, parseEnvFile, redactUrl } from '../config';
import { ferretdb } from './ferretdb';
import { kafka } from './kafka';
import { postgres } from './postgres';
import { probeKafka, probeMongo, probePostgres } from './probes';
import { STACK_DIR, run } from './proc';
import type { NativeService } from './service';

export type Mode = 'external' | 'docker' | 'native';
export const NATIVE_SERVICES: NativeService[] = [postgres, kafka, ferretdb];
const MODE_FILE = path.join(STACK_DIR, 'mode');
const COMPOSE_FILE = path.join(PROJECT_ROOT, 'docker-compose.yml');

export interface StackEnv {
  KAFKA_BROKERS: string;
  POSTGRES_URL: string;
  MONGO_URL: string;
}

/** Raised when a service cannot be brought up; names the service and why. */
export class StackError extends Error {
  constructor(readonly service: string, reason: string) {
    super(`${service}: ${reason.startsWith(`${service}:`) ? reason.slice(service.length + 1).trim() : reason}`);
    this.name = 'StackError';
  }
}

function writeEnv(mode: Mode, env: StackEnv): void {
  mkdirSync(STACK_DIR, { recursive: true });
  const lines = [
    `# written by \`npm run stack -- up\` (${mode} mode); loaded by lib/config.ts`,
    `STACK_MODE=${mode}`,
    `KAFKA_BROKERS=${env.KAFKA_BROKERS}`,
    `KAFKA_TOPIC=${DEFAULTS.kafka.topic}`,
    `POSTGRES_URL=${env.POSTGRES_URL}`,
    `MONGO_URL=${env.MONGO_URL}`,
    '',
  ];
  writeFileSync(STACK_ENV_FILE, lines.join('\n'), { mode: 0o600 });
  writeFileSync(MODE_FILE, mode);
}

/** The mode the last `up` used, if any. */
export function currentMode(): Mode | undefined {
  return existsSync(MODE_FILE) ? (readFileSync(MODE_FILE, 'utf8').trim() as Mode) : undefined;
}

async function reachable(env: StackEnv): Promise<string[]> {
  // Probes run at once; each promise is caught where it is made, so none rejects unobserved.
  const checks: [string, Promise<boolean>][] = [
    ['kafka', probeKafka(env.KAFKA_BROKERS, process.env.KAFKA_TOPIC ?? DEFAULTS.kafka.topic, { partitions: DEFAULTS.kafka.partitions }).catch(() => false)],
    ['postgres', probePostgres(env.POSTGRES_URL).catch(() => false)],
    ['mongo', probeMongo(env.MONGO_URL).catch(() => false)],
  ];
  const failed: string[] = [];
  for (const [name, p] of checks) if (!(await p)) failed.push(name);
  return failed;
}

/** Whether these settings are just what our own native/docker `up` wrote (and a process loaded). */
function cameFromStackEnv(env: StackEnv): boolean {
  const mode = currentMode();
  if ((mode !== 'native' && mode !== 'docker') || !existsSync(STACK_ENV_FILE)) return false;
  const written = parseEnvFile(readFileSync(STACK_ENV_FILE, 'utf8'));
  return written.KAFKA_BROKERS === env.KAFKA_BROKERS && written.POSTGRES_URL === env.POSTGRES_URL && written.MONGO_URL === env.MONGO_URL;
}

const dockerAnswers = () => spawnSync('docker', ['info'], { stdio: 'ignore', timeout: 10_000 }).status === 0;

/** Brings the stack up (idempotent) and writes `.stack/env`. */
export async function up(log: (m: string) => void): Promise<{ mode: Mode; env: StackEnv }> {
  const { KAFKA_BROKERS, POSTGRES_URL, MONGO_URL } = process.env;
  if (KAFKA_BROKERS && POSTGRES_URL && MONGO_URL && !cameFromStackEnv({ KAFKA_BROKERS, POSTGRES_URL, MONGO_URL })) {
    const env = { KAFKA_BROKERS, POSTGRES_URL, MONGO_URL };
    const failed = await reachable(env);
    if (failed.length === 0) {
      log(`external services from the environment: kafka ${KAFKA_BROKERS}, postgres ${redactUrl(POSTGRES_URL)}, mongo ${redactUrl(MONGO_URL)}`);
      writeEnv('external', env);
      return { mode: 'external', env };
    }
    log(`KAFKA_BROKERS/POSTGRES_URL/MONGO_URL are set but ${failed.join(', ')} did not answer: starting a stack instead`);
  }

  if (currentMode() !== 'native' && dockerAnswers()) {
    log('docker engine found: docker compose up -d --wait');
    await run('docker', ['compose', '-f', COMPOSE_FILE, 'up', '-d', '--wait'], { what: 'docker compose up', stdio: ['ignore', 'inherit', 'inherit'] });
    const env = { KAFKA_BROKERS: DEFAULT_KAFKA_BROKERS, POSTGRES_URL: DEFAULT_POSTGRES_URL, MONGO_URL: DEFAULT_MONGO_URL };
    const failed = await reachable(env);
    if (failed.length) throw new StackError(failed[0], 'docker compose reported healthy but the service does not answer');
    writeEnv('docker', env);
    return { mode: 'docker', env };
  }

  // Native: prepare (install/download/build) all three at once, then start them.
  const started = Date.now();
  const results = await Promise.allSettled(
    NATIVE_SERVICES.map(async (s) => {
      try {
        await s.prepare(log);
        return await s.up(log);
      } catch (e) {
        throw new StackError(s.name, (e as Error).message);
      }
    }),
  );
  const errors = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as Error);
  if (errors.length) {
    const err = new Error(`stack up failed:\n${errors.map((e) => `  ${e.message}`).join('\n')}`);
    throw err;
  }
  const [pgUrl, brokers, mongoUrl] = results.map((r) => (r as PromiseFulfilledResult<string>).value);
  const env = { KAFKA_BROKERS: brokers, POSTGRES_URL: pgUrl, MONGO_URL: mongoUrl };
  writeEnv('native', env);
  log(`native stack up in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  return { mode: 'native', env };
}

/** Stops what `up` started; `purge` also deletes `.stack/` (data, logs, downloads). */
export async function down(log: (m: string) => void, purge = false): Promise<void> {
  const mode = currentMode();
  if (mode === 'docker') {
    await run('docker', ['compose', '-f', COMPOSE_FILE, 'down', ...(purge ? ['--volumes'] : [])], { what: 'docker compose down', stdio: ['ignore', 'inherit', 'inherit'] });
  } else {
    // Kafka first: it may still be writing group offsets while the others go.
    for (const s of [kafka, ferretdb, postgres]) {
      if (await s.down()) log(`${s.name}: stopped`);
    }
  }
  if (purge) {
    rmSync(STACK_DIR, { recursive: true, force: true });
    log('.stack/ deleted');
  } else {
    rmSync(STACK_ENV_FILE, { force: true });
  }
}

/** One line per service: mode, address, up or down. */
export async function status(): Promise<string[]> {
  const mode = currentMode();
  if (mode === 'native' || mode === undefined) {
    const lines: string[] = [];
    for (const s of NATIVE_SERVICES) {
      const st = await s.status();
      lines.push(`${s.name.padEnd(9)} ${(mode ?? 'native').padEnd(8)} ${st.address.padEnd(16)} ${st.up ? 'up' : 'down'}${st.pid ? ` (pid ${st.pid})` : ''}`);
    }
    return lines;
  }
  const env = parseEnvFile(readFileSync(STACK_ENV_FILE, 'utf8')) as unknown as StackEnv;
  const failed = await reachable(env);
  return [
    ['kafka', env.KAFKA_BROKERS],
    ['postgres', redactUrl(env.POSTGRES_URL)],
    ['mongo', redactUrl(env.MONGO_URL)],
  ].map(([name, addr]) => `${name.padEnd(9)} ${mode.padEnd(8)} ${addr.padEnd(16)} ${failed.includes(name) ? 'down' : 'up'}`);
}
