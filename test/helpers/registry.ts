/**
 * A schema registry of one test file's own: `stack up --registry` in a stack folder of its own, in
 * external mode over the services this run uses, so its `down` stops only that registry (by pid).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseEnvFile } from '../../lib/config';
import { stackConfig } from './env';
import { stackCli } from './run';

export interface TestRegistry {
  /** Its Confluent-compatible API (SCHEMA_REGISTRY_URL). */
  url: string;
  /** The stack folder and the settings that address it, for `stack` commands. */
  dir: string;
  env: Record<string, string>;
  /** What `stack up --registry` said (stderr). */
  upLog: string;
  /** `stack down` in its folder, then the folder deleted. */
  stop(): Promise<void>;
}

/** Starts one (300 s at most: the first start fetches 142 MB from Maven Central). */
export async function startRegistry(): Promise<TestRegistry> {
  const cfg = stackConfig();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'quotes-sink-registry-'));
  const env = {
    QUOTES_SINK_STACK_DIR: dir,
    KAFKA_BROKERS: cfg.KAFKA_BROKERS,
    POSTGRES_URL: cfg.POSTGRES_URL,
    MONGO_URL: cfg.MONGO_URL,
    SCHEMA_REGISTRY_URL: '',
  };
  const stop = async () => {
    await stackCli(['down'], env).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };
  const up = await stackCli(['up', '--registry'], env, 300_000);
  if (up.code !== 0) await stop();
  assert.equal(up.code, 0, up.stderr);
  const url = parseEnvFile(readFileSync(path.join(dir, 'env'), 'utf8')).SCHEMA_REGISTRY_URL;
  return { url, dir, env, upLog: up.stderr, stop };
}
