/** docker-compose.yml and lib/config.ts DEFAULTS must describe the same stack. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import {
  DEFAULTS,
  DEFAULT_MONGO_URL,
  PROJECT_ROOT,
  parseEnvFile,
  DEFAULT_POSTGRES_URL,
  DEFAULT_KAFKA_BROKERS,
} from '../../lib/config';

interface Service {
  image: string;
  ports?: string[];
  environment?: Record<string, string | number>;
  healthcheck?: unknown;
}
const compose = parse(readFileSync(path.join(PROJECT_ROOT, 'docker-compose.yml'), 'utf8')) as {
  services: Record<string, Service>;
};
const svc = (name: string) => {
  const s = compose.services[name];
  assert.ok(s, `docker-compose.yml has no service ${name}`);
  return s;
};
const hostPorts = (s: Service) => (s.ports ?? []).map((p) => Number(String(p).split(':')[0]));

test('every service has a healthcheck, so `up --wait` means serving', () => {
  for (const name of ['kafka', 'kafka-ui', 'postgres', 'pgadmin', 'mongo', 'mongo-express']) {
    assert.ok(svc(name).healthcheck, `${name} has no healthcheck`);
  }
});

test('postgres: port, database, user and password equal the defaults', () => {
  const pg = svc('postgres');
  assert.deepEqual(hostPorts(pg), [DEFAULTS.postgres.port]);
  assert.equal(pg.environment?.POSTGRES_USER, DEFAULTS.postgres.user);
  assert.equal(pg.environment?.POSTGRES_PASSWORD, DEFAULTS.postgres.password);
  assert.equal(pg.environment?.POSTGRES_DB, DEFAULTS.postgres.database);
});

test('mongo: port and root user equal the defaults', () => {
  const m = svc('mongo');
  assert.deepEqual(hostPorts(m), [DEFAULTS.mongo.port]);
  assert.equal(m.environment?.MONGO_INITDB_ROOT_USERNAME, DEFAULTS.mongo.user);
  assert.equal(m.environment?.MONGO_INITDB_ROOT_PASSWORD, DEFAULTS.mongo.password);
  assert.match(
    String(svc('mongo-express').environment?.ME_CONFIG_MONGODB_URL),
    new RegExp(`${DEFAULTS.mongo.user}:${DEFAULTS.mongo.password}@`),
  );
});

test('kafka: host listener on the default broker address, 3.9.x, KRaft, no auto-created topics', () => {
  const k = svc('kafka');
  assert.match(k.image, /^apache\/kafka:3\.9\./);
  assert.deepEqual(hostPorts(k), [DEFAULTS.kafka.port]);
  assert.match(
    String(k.environment?.KAFKA_ADVERTISED_LISTENERS),
    new RegExp(`//${DEFAULT_KAFKA_BROKERS.replace(/\./g, '\\.')}`),
  );
  assert.equal(String(k.environment?.KAFKA_AUTO_CREATE_TOPICS_ENABLE), 'false');
  assert.equal(Number(k.environment?.KAFKA_NUM_PARTITIONS), DEFAULTS.kafka.partitions);
});

test('UIs on the documented ports', () => {
  assert.deepEqual(hostPorts(svc('kafka-ui')), [DEFAULTS.ui.kafkaUi]);
  assert.deepEqual(hostPorts(svc('pgadmin')), [DEFAULTS.ui.pgadmin]);
  assert.deepEqual(hostPorts(svc('mongo-express')), [DEFAULTS.ui.mongoExpress]);
});

test('.env.example states the same defaults', () => {
  // Every setting is commented out (a copied .env changes nothing until a line is uncommented).
  const text = readFileSync(path.join(PROJECT_ROOT, '.env.example'), 'utf8');
  assert.deepEqual(parseEnvFile(text), {});
  const ex = parseEnvFile(text.replace(/^# ([A-Z_]+=)/gm, '$1'));
  assert.equal(ex.POSTGRES_URL, DEFAULT_POSTGRES_URL);
  assert.equal(ex.MONGO_URL, DEFAULT_MONGO_URL);
  assert.equal(ex.KAFKA_BROKERS, DEFAULT_KAFKA_BROKERS);
  assert.equal(ex.KAFKA_TOPIC, DEFAULTS.kafka.topic);
  assert.equal(ex.MONGO_DATABASE, DEFAULTS.mongo.database);
});
