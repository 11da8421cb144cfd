import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RecordMeta } from '../../lib/event/decode';
import { quoteType, type Quote } from '../../lib/records/quote';
import { validateRecord } from '../../lib/records/validate';
import { toDocument } from '../../lib/sink/model';
import { mongoIndexes } from '../../lib/sink/mongo';
import { schemaSql } from '../../lib/sink/postgres';
import { recordsTable } from '../../lib/sink/postgres-tables';
import { insertSql, toRow } from '../../lib/sink/table-spec';
import { ident, qualified } from '../../lib/sink/tables';

const coords = { topic: 'quotes', partition: 2, offset: 42 };
const meta: RecordMeta = {
  cluster: 'AbCdEfGhIj',
  coordinates: coords,
  timestamp: 1700000000000,
  timestampType: 'CREATE_TIME',
  keyText: 'Homer',
  keyBase64: 'SG9tZXI=',
  headers: [{ name: 'source', value: 'api' }],
};

test('a quote validates and keeps unknown fields', () => {
  const v = validateRecord(
    quoteType,
    { quote: 'Doh', character: 'Homer', image: 'https://x.test/h.png', characterDirection: 'Right', season: 4 },
    coords,
  );
  assert.ok(v.ok);
  if (v.ok) assert.equal((v.value as Quote & { season: number }).season, 4);
  assert.ok(
    validateRecord(quoteType, { quote: 'Doh', character: 'Homer' }, coords).ok,
    'image and direction are optional',
  );
});

describe('invalid quotes say which field and which record', () => {
  const cases: [unknown, RegExp][] = [
    [{ character: 'Homer' }, /quote: Required/],
    [{ quote: '   ', character: 'Homer' }, /quote: must be a non-empty string/],
    [{ quote: 'Doh', character: 5 }, /character: Expected string/],
    [{ quote: 'Doh', character: 'Homer', image: 'not a url' }, /image: must be a URL/],
    [[1, 2], /\(value\): Expected object/],
    ['just a string', /Expected object/],
  ];
  for (const [value, why] of cases) {
    test(String(why), () => {
      const v = validateRecord(quoteType, value, coords);
      assert.equal(v.ok, false);
      if (!v.ok) {
        assert.match(v.error.message, why);
        assert.match(v.error.message, /quotes\/2\/42/);
        assert.equal(v.error.kind, 'schema');
      }
    });
  }
});

test('row and document mapping', () => {
  const payload = { quote: 'Doh', character: 'Homer', characterDirection: 'Right', extra: true };
  const valueText = JSON.stringify(payload);
  const good = {
    meta,
    payload,
    value: payload as Quote,
    valueBase64: Buffer.from(valueText).toString('base64'),
    valueText,
  };
  const row = toRow(recordsTable(quoteType), good);
  assert.deepEqual(row, {
    cluster: 'AbCdEfGhIj',
    topic: 'quotes',
    partition: 2,
    offset: 42,
    kafka_key: 'Homer',
    kafka_key_base64: 'SG9tZXI=',
    headers: meta.headers,
    kafka_timestamp: '2023-11-14T22:13:20.000Z',
    timestamp_type: 'CREATE_TIME',
    raw_value: valueText,
    quote: 'Doh',
    character: 'Homer',
    image: null,
    character_direction: 'Right',
  });
  const at = new Date(0);
  const doc = toDocument(quoteType, good, at);
  assert.equal(doc._id, 'AbCdEfGhIj:quotes-2-42');
  assert.equal(doc.characterDirection, 'Right');
  assert.deepEqual(doc.payload, payload);
  assert.equal((doc.kafka as { offset: number }).offset, 42);
  assert.equal(doc.ingestedAt, at);
});

test('the chunk statement binds one parameter whatever the chunk size (far below 65,535)', () => {
  const sql = insertSql('"public"."quotes"', recordsTable(quoteType));
  assert.deepEqual([...new Set(sql.match(/\$\d+/g))], ['$1']);
  assert.match(sql, /on conflict \("cluster", "topic", "partition", "offset"\) do nothing/);
});

test("the DDL has the coordinates as primary key, and the type's and the sink's indexes", () => {
  const ddl = schemaSql(quoteType, { schema: 'public', records: 'quotes', deadLetters: 'dead_letters' });
  assert.match(ddl, /create table if not exists "public"."quotes" \(/);
  assert.match(ddl, /primary key \("cluster", "topic", "partition", "offset"\)/);
  assert.match(ddl, /create index if not exists "quotes_character_idx" on "public"."quotes" \("character"\)/);
  assert.match(ddl, /create index if not exists "quotes_ingested_at_idx"/);
  assert.match(ddl, /create table if not exists "public"."dead_letters" \(/);
});

test('Mongo indexes come from the record type', () => {
  assert.deepEqual(mongoIndexes(quoteType), [{ character: 1 }, { 'kafka.timestamp': 1 }]);
});

test('qualified table names honour the schema', () => {
  assert.equal(qualified({ schema: 'sink', records: 'quotes', deadLetters: 'dl' }, 'deadLetters'), '"sink"."dl"');
});

test('identifiers are checked and quoted', () => {
  assert.equal(ident('quotes'), '"quotes"');
  assert.throws(() => ident('quotes"; drop table x; --'), /unsafe SQL identifier/);
  assert.throws(() => ident('Quotes'), /unsafe/);
});

describe('image URLs: http and https only', () => {
  for (const image of ['javascript:alert(1)', 'data:text/html,<b>x</b>', 'file:///etc/passwd']) {
    test(`refuses ${image.slice(0, 20)}`, () => {
      const v = validateRecord(quoteType, { quote: 'Doh', character: 'Homer', image }, coords);
      assert.equal(v.ok, false);
    });
  }
  test('accepts https', () =>
    assert.ok(
      validateRecord(quoteType, { quote: 'Doh', character: 'Homer', image: 'https://x.test/a.png' }, coords).ok,
    ));
});
