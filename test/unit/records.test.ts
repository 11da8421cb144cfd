import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RecordMeta } from '../../lib/event/decode';
import { quoteType, type Quote } from '../../lib/records/quote';
import { validateRecord } from '../../lib/records/validate';
import { describeBatch, documentId, toDocument, toRow } from '../../lib/sink/model';
import { batchInsertSql, ident, schemaSql } from '../../lib/sink/postgres';
import type { RecordType } from '../../lib/records/record-type';

const coords = { topic: 'quotes', partition: 2, offset: 42 };
const meta: RecordMeta = { coordinates: coords, timestamp: 1700000000000, timestampType: 'CREATE_TIME', keyText: 'Homer', keyBase64: 'SG9tZXI=', headers: [{ name: 'source', value: 'api' }] };

test('a quote validates and keeps unknown fields', () => {
  const v = validateRecord(quoteType, { quote: 'Doh', character: 'Homer', image: 'https://x.test/h.png', characterDirection: 'Right', season: 4 }, coords);
  assert.ok(v.ok);
  if (v.ok) assert.equal((v.value as Quote & { season: number }).season, 4);
  assert.ok(validateRecord(quoteType, { quote: 'Doh', character: 'Homer' }, coords).ok, 'image and direction are optional');
});

test('invalid quotes say which field and which record', () => {
  const cases: [unknown, RegExp][] = [
    [{ character: 'Homer' }, /quote: Required/],
    [{ quote: '   ', character: 'Homer' }, /quote: must be a non-empty string/],
    [{ quote: 'Doh', character: 5 }, /character: Expected string/],
    [{ quote: 'Doh', character: 'Homer', image: 'not a url' }, /image: must be a URL/],
    [[1, 2], /\(value\): Expected object/],
    ['just a string', /Expected object/],
  ];
  for (const [value, why] of cases) {
    const v = validateRecord(quoteType, value, coords);
    assert.equal(v.ok, false);
    if (!v.ok) {
      assert.match(v.error.message, why);
      assert.match(v.error.message, /quotes\/2\/42/);
      assert.equal(v.error.kind, 'schema');
    }
  }
});

test('row and document mapping', () => {
  const payload = { quote: 'Doh', character: 'Homer', characterDirection: 'Right', extra: true };
  const good = { meta, payload, value: payload as Quote };
  const row = toRow(quoteType, good);
  assert.deepEqual(row, {
    topic: 'quotes', partition: 2, offset: 42, kafka_key: 'Homer', kafka_key_base64: 'SG9tZXI=', headers: meta.headers,
    kafka_timestamp: '2023-11-14T22:13:20.000Z', timestamp_type: 'CREATE_TIME', payload,
    quote: 'Doh', character: 'Homer', image: null, character_direction: 'Right',
  });
  const at = new Date(0);
  const doc = toDocument(quoteType, good, at);
  assert.equal(doc.characterDirection, 'Right');
  assert.deepEqual(doc.payload, payload);
  assert.equal((doc.kafka as { offset: number }).offset, 42);
  assert.equal(doc.ingestedAt, at);
  assert.equal(documentId(meta), 'quotes-2-42');
});

test('describeBatch names partitions and offset ranges', () => {
  const m = (p: number, o: number): RecordMeta => ({ ...meta, coordinates: { topic: 'quotes', partition: p, offset: o } });
  assert.equal(describeBatch([m(0, 5), m(0, 3), m(1, 9)]), 'batch quotes-0@3..5, quotes-1@9..9');
  assert.equal(describeBatch([m(0, 5)]), 'record quotes/0/5');
});

test('the batch statement binds two parameters whatever the batch size (far below 65,535)', () => {
  const sql = batchInsertSql(quoteType as RecordType<unknown>, { schema: 'public', records: 'quotes', deadLetters: 'dead_letters' });
  const params = new Set(sql.match(/\$\d+/g));
  assert.deepEqual([...params].sort(), ['$1', '$2']);
  assert.match(sql, /on conflict \("topic", "partition", "offset"\) do nothing/);
  assert.match(schemaSql(quoteType as RecordType<unknown>, { schema: 'public', records: 'quotes', deadLetters: 'dead_letters' }), /primary key \("topic", "partition", "offset"\)/);
});

test('identifiers are checked and quoted', () => {
  assert.equal(ident('quotes'), '"quotes"');
  assert.throws(() => ident('quotes"; drop table x; --'), /unsafe SQL identifier/);
  assert.throws(() => ident('Quotes'), /unsafe/);
});
