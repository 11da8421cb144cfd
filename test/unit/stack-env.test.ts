/** Configuration precedence: flags > environment > .env > .stack/env > defaults (lib/config.ts loadStackEnv). */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { DOTENV_FILE, ENV_FILES, STACK_ENV_FILE, loadConfig, loadStackEnv } from '../../lib/config';

const dir = mkdtempSync(path.join(os.tmpdir(), 'quotes-sink-env-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const dotenv = path.join(dir, '.env');
const stackEnv = path.join(dir, 'stack-env');
writeFileSync(dotenv, 'KAFKA_BROKERS=dotenv:9092\nKAFKA_TOPIC=dotenv-topic\n');
writeFileSync(stackEnv, 'KAFKA_BROKERS=stack:9092\nKAFKA_TOPIC=stack-topic\nMONGO_URL=mongodb://stack:27017/\n');
const files = [dotenv, stackEnv];

test('precedence: the default files are .env, then the stack env file', () => {
  assert.deepEqual(ENV_FILES, [DOTENV_FILE, STACK_ENV_FILE]);
});

test('precedence: the environment wins over both files', () => {
  const env: NodeJS.ProcessEnv = { KAFKA_BROKERS: 'env:9092' };
  loadStackEnv(env, files);
  assert.equal(env.KAFKA_BROKERS, 'env:9092');
});

test('precedence: .env wins over the stack env file', () => {
  const env: NodeJS.ProcessEnv = {};
  loadStackEnv(env, files);
  assert.equal(env.KAFKA_BROKERS, 'dotenv:9092');
  assert.equal(env.KAFKA_TOPIC, 'dotenv-topic');
});

test('precedence: the stack env file fills what neither the environment nor .env sets', () => {
  const env: NodeJS.ProcessEnv = {};
  loadStackEnv(env, files);
  assert.equal(env.MONGO_URL, 'mongodb://stack:27017/');
});

test('precedence: an empty variable in the environment counts as unset', () => {
  const env: NodeJS.ProcessEnv = { KAFKA_BROKERS: '' };
  loadStackEnv(env, files);
  assert.equal(env.KAFKA_BROKERS, 'dotenv:9092');
});

test('precedence: the defaults apply last, to what no source sets', () => {
  const env: NodeJS.ProcessEnv = {};
  loadStackEnv(env, files);
  const config = loadConfig(env);
  assert.equal(config.KAFKA_GROUP_ID, 'quotes-sink-local');
  assert.equal(config.KAFKA_BROKERS, 'dotenv:9092');
});

test('loadStackEnv returns each key it filled, once', () => {
  const env: NodeJS.ProcessEnv = { KAFKA_TOPIC: 'env-topic' };
  assert.deepEqual(loadStackEnv(env, files).sort(), ['KAFKA_BROKERS', 'MONGO_URL']);
});

test('missing files are skipped', () => {
  const env: NodeJS.ProcessEnv = {};
  assert.deepEqual(loadStackEnv(env, [path.join(dir, 'none'), stackEnv]).sort(), [
    'KAFKA_BROKERS',
    'KAFKA_TOPIC',
    'MONGO_URL',
  ]);
  assert.equal(env.KAFKA_BROKERS, 'stack:9092');
});
