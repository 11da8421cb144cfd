/** How TLS and SASL settings reach the Kafka, Postgres and Mongo clients. */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../lib/config';
import { kafkaOptions } from '../../tools/kafka';
import { mongoOptions } from '../../lib/mongo/store';
import { sliceBounds } from '../../lib/sink/slices';
import { poolConfig, postgresSsl } from '../../lib/postgres/store';

const ca = path.join(mkdtempSync(path.join(tmpdir(), 'ca-')), 'ca.pem');
writeFileSync(ca, '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n');

test('kafka: plaintext by default; TLS with a CA; SASL/SCRAM credentials', () => {
  assert.equal(kafkaOptions(loadConfig({})).ssl, undefined);
  assert.equal(kafkaOptions(loadConfig({})).sasl, undefined);
  const c = loadConfig({
    KAFKA_BROKERS: 'b1:9096, b2:9096',
    KAFKA_SSL: 'true',
    KAFKA_SSL_CA_FILE: ca,
    KAFKA_SASL_MECHANISM: 'scram-sha-512',
    KAFKA_SASL_USERNAME: 'sink',
    KAFKA_SASL_PASSWORD: 'pw',
  });
  const o = kafkaOptions(c);
  assert.deepEqual(o.brokers, ['b1:9096', 'b2:9096']);
  assert.deepEqual(o.ssl, { ca: [`-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n`] });
  assert.deepEqual(o.sasl, { mechanism: 'scram-sha-512', username: 'sink', password: 'pw' });
  assert.equal(kafkaOptions(loadConfig({ KAFKA_SSL: 'true' })).ssl, true);
});

test('postgres: sslmode maps to node-postgres ssl options; pool is small with timeouts', () => {
  assert.equal(postgresSsl({ POSTGRES_SSLMODE: 'disable' }), false);
  assert.deepEqual(postgresSsl({ POSTGRES_SSLMODE: 'require' }), { rejectUnauthorized: false });
  const full = postgresSsl({ POSTGRES_SSLMODE: 'verify-full', POSTGRES_SSL_CA_FILE: ca }) as {
    rejectUnauthorized: boolean;
    ca: string;
  };
  assert.equal(full.rejectUnauthorized, true);
  assert.match(full.ca, /BEGIN CERTIFICATE/);
  const vca = postgresSsl({ POSTGRES_SSLMODE: 'verify-ca', POSTGRES_SSL_CA_FILE: ca }) as {
    checkServerIdentity: () => undefined;
  };
  assert.equal(typeof vca.checkServerIdentity, 'function', 'verify-ca checks the chain, not the host name');
  const p = poolConfig(
    loadConfig({ POSTGRES_SSLMODE: 'require', POSTGRES_POOL_MAX: '3', POSTGRES_QUERY_TIMEOUT_MS: '1234' }),
  );
  assert.equal(p.max, 3);
  assert.equal(p.statement_timeout, 1234);
  assert.equal(p.query_timeout, 1234);
  assert.equal(p.connectionTimeoutMillis, 5000);
  assert.deepEqual(p.ssl, { rejectUnauthorized: false });
  assert.equal(poolConfig(loadConfig({})).max, 2);
});

test('mongo: TLS and its CA file reach the client options', () => {
  assert.equal(mongoOptions(loadConfig({})).tls, undefined);
  const o = mongoOptions(loadConfig({ MONGO_TLS: 'true', MONGO_TLS_CA_FILE: ca, MONGO_TIMEOUT_MS: '4000' }));
  assert.equal(o.tls, true);
  assert.equal(o.tlsCAFile, ca);
  assert.equal(o.socketTimeoutMS, 4000);
});

test('a chunk is sent in at most two slices of at least 500 records, covering it once', () => {
  assert.deepEqual(sliceBounds(0, 2), []);
  assert.deepEqual(sliceBounds(10, 2), [[0, 10]]);
  assert.deepEqual(sliceBounds(500, 2), [[0, 500]]);
  assert.deepEqual(sliceBounds(999, 2), [[0, 999]]);
  assert.deepEqual(sliceBounds(1000, 2), [
    [0, 500],
    [500, 1000],
  ]);
  assert.deepEqual(sliceBounds(2001, 2), [
    [0, 1001],
    [1001, 2001],
  ]);
  assert.deepEqual(sliceBounds(1000, 1), [[0, 1000]]);
});
