/**
 * Test environment: the settings `npm run stack -- up` wrote (npm test runs it first).
 * Fails loudly rather than skipping when the stack was never brought up.
 */
import { existsSync } from 'node:fs';
import { STACK_ENV_FILE, loadConfig, loadStackEnv, type Config } from '../../lib/config';

export function stackConfig(overrides: Record<string, string> = {}): Config {
  if (!existsSync(STACK_ENV_FILE) && !process.env.KAFKA_BROKERS) {
    throw new Error(`no ${STACK_ENV_FILE}: run \`npm run stack -- up\` (npm test does this itself)`);
  }
  loadStackEnv();
  return loadConfig({ ...process.env, ...overrides });
}

/** A name unique to this test run, for topics, tables and collections that must start empty. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 7)}`;
}
