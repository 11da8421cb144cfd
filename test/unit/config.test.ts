import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ConfigError,
  DEFAULT_POSTGRES_URL,
  deadLetterStore,
  loadConfig,
  parseEnvFile,
  redactUrl,
  storesInUse,
} from '../../lib/config';
import { quoteType } from '../helpers/quote-type';
import { openStores } from '../../lib/stores';

test('defaults equal the compose stack and need no environment', () => {
  const c = loadConfig({});
  assert.equal(c.POSTGRES_URL, DEFAULT_POSTGRES_URL);
  assert.equal(c.KAFKA_TOPIC, 'quotes');
  assert.equal(c.MONGO_DATABASE, 'simpson_db');
  assert.equal(c.POSTGRES_POOL_MAX, 2);
  assert.equal(c.TOMBSTONES, 'skip');
  assert.equal(c.SINK_WRITE_CHUNK, 500);
});

test('every bad value is reported at once, by name, without echoing it', () => {
  let err: unknown;
  try {
    loadConfig({
      POSTGRES_URL: 'mysql://u:supersecret@h/db',
      POSTGRES_POOL_MAX: '0',
      POSTGRES_QUOTES_TABLE: 'quotes; drop table x',
    });
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof ConfigError);
  assert.equal(err.problems.length, 3);
  assert.match(err.message, /POSTGRES_URL/);
  assert.match(err.message, /POSTGRES_POOL_MAX/);
  assert.match(err.message, /POSTGRES_QUOTES_TABLE/);
  assert.doesNotMatch(err.message, /supersecret/);
});

test('enum errors list the allowed values without echoing the one given', () => {
  const given = {
    LOG_LEVEL: 'pw-LOG',
    TOMBSTONES: 'pw-TOMB',
    POSTGRES_SSLMODE: 'pw-SSL',
    KAFKA_SSL: 'pw-BOOL',
    KAFKA_SASL_MECHANISM: 'pw-SASL',
  };
  let err: unknown;
  try {
    loadConfig(given);
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof ConfigError);
  assert.equal(err.problems.length, 5);
  assert.doesNotMatch(err.message, /pw-/);
  assert.match(err.message, /LOG_LEVEL: must be one of trace, debug, info, warn, error, fatal, silent/);
  assert.match(err.message, /TOMBSTONES: must be one of skip, delete/);
  assert.match(err.message, /POSTGRES_SSLMODE: must be one of disable, require, verify-ca, verify-full/);
  assert.match(err.message, /KAFKA_SSL: must be one of true, false, 1, 0, yes, no/);
  assert.match(err.message, /KAFKA_SASL_MECHANISM: must be one of plain, scram-sha-256, scram-sha-512/);
});

test('SASL needs a username and a password', () => {
  assert.throws(() => loadConfig({ KAFKA_SASL_MECHANISM: 'scram-sha-512' }), /KAFKA_SASL_USERNAME/);
});

test('env files: comments, blanks and quotes', () => {
  assert.deepEqual(parseEnvFile('# c\n\nA=1\nB="two words"\nC = x=y\n'), { A: '1', B: 'two words', C: 'x=y' });
});

test('redactUrl hides the password only', () => {
  assert.equal(
    redactUrl('postgres://mchi:mchi1234@127.0.0.1:5432/simpsons'),
    'postgres://mchi:***@127.0.0.1:5432/simpsons',
  );
  assert.equal(redactUrl('mongodb://127.0.0.1:27017/'), 'mongodb://127.0.0.1:27017/');
});

test('SINK_STORES picks the record stores; dead letters follow Postgres unless told', () => {
  assert.deepEqual(loadConfig({}).SINK_STORES, ['postgres', 'mongo']);
  assert.deepEqual(loadConfig({ SINK_STORES: 'mongo, postgres' }).SINK_STORES, ['postgres', 'mongo']);
  assert.deepEqual(loadConfig({ SINK_STORES: 'mongo' }).SINK_STORES, ['mongo']);
  assert.equal(deadLetterStore(loadConfig({})), 'postgres');
  assert.equal(deadLetterStore(loadConfig({ SINK_STORES: 'postgres' })), 'postgres');
  assert.equal(deadLetterStore(loadConfig({ SINK_STORES: 'mongo' })), 'mongo');
  assert.equal(deadLetterStore(loadConfig({ SINK_STORES: 'mongo', SINK_DEAD_LETTERS: 'postgres' })), 'postgres');
  assert.throws(
    () => loadConfig({ SINK_STORES: 'postgres,redis' }),
    /SINK_STORES: must be postgres,mongo, postgres or mongo/,
  );
  assert.throws(() => loadConfig({ SINK_STORES: ',' }), /SINK_STORES/);
  // The databases a CLI checks and migrates: the record stores and where dead letters go.
  assert.deepEqual(storesInUse(loadConfig({})), ['postgres', 'mongo']);
  assert.deepEqual(storesInUse(loadConfig({ SINK_STORES: 'postgres' })), ['postgres']);
  assert.deepEqual(storesInUse(loadConfig({ SINK_STORES: 'mongo' })), ['mongo']);
  assert.deepEqual(storesInUse(loadConfig({ SINK_STORES: 'mongo', SINK_DEAD_LETTERS: 'postgres' })), [
    'postgres',
    'mongo',
  ]);
});

test('openStores opens only the stores SINK_STORES names (and where dead letters go)', async () => {
  const names = (env: Record<string, string>) => {
    const s = openStores(loadConfig(env), quoteType);
    const out = { records: s.records.map((r) => r.name), deadLetters: s.deadLetters.name };
    return s.close().then(() => out);
  };
  assert.deepEqual(await names({}), { records: ['postgres', 'mongo'], deadLetters: 'postgres' });
  assert.deepEqual(await names({ SINK_STORES: 'postgres' }), { records: ['postgres'], deadLetters: 'postgres' });
  assert.deepEqual(await names({ SINK_STORES: 'mongo' }), { records: ['mongo'], deadLetters: 'mongo' });
  assert.deepEqual(await names({ SINK_STORES: 'mongo', SINK_DEAD_LETTERS: 'postgres' }), {
    records: ['mongo'],
    deadLetters: 'postgres',
  });
});
