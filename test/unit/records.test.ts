import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RecordMeta } from '../../lib/event/decode';
import { quoteSchema, type Quote } from '../helpers/quote-reference';
import { quoteType } from '../helpers/quote-type';
import { validateRecord } from '../../lib/records/validate';
import { parseStoredId } from '../../lib/event/coordinates';
import { typeFields } from '../../lib/records/record-type';
import { toDocument } from '../../lib/sink/model';
import {
  compactHeaders,
  expandHeaders,
  keyBase64Of,
  rebuildText,
  splitValue,
  storedKey,
} from '../../lib/sink/value-parts';
import { mongoIndexes } from '../../lib/mongo/store';
import { schemaSql } from '../../lib/postgres/store';
import { isoTime, recordsTable } from '../../lib/postgres/tables';
import { insertSql, toRow } from '../../lib/postgres/table-spec';
import { ident, qualified } from '../../lib/postgres/names';

const coords = { topic: 'quotes', partition: 2, offset: 42 };
const meta: RecordMeta = {
  cluster: 'AbCdEfGhIj',
  coordinates: coords,
  timestamp: 1700000000000,
  timestampType: 'CREATE_TIME',
  keyText: 'Homer',
  keyBase64: 'SG9tZXI=',
  headers: [{ name: 'source', value: 'api' }],
  fingerprint: 'AAAAAAAAAAAAAAAAAAAAAA',
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

test('row and document mapping: each field once, the rest in extra, no raw text when the parts rebuild it', () => {
  const payload = { quote: 'Doh', character: 'Homer', characterDirection: 'Right', extra: true };
  const valueText = JSON.stringify(payload);
  const parts = splitValue(typeFields(quoteType), payload, valueText);
  assert.deepEqual(parts, {
    fields: { quote: 'Doh', character: 'Homer', characterDirection: 'Right' },
    extra: { extra: true },
  });
  const good = {
    meta,
    payload,
    value: payload as Quote,
    valueBase64: Buffer.from(valueText).toString('base64'),
    valueText,
    parts,
    key: storedKey(meta.keyText, meta.keyBase64),
  };
  const row = toRow(recordsTable(quoteType), good);
  // Null columns are left out of the row: json_to_recordset reads them as null.
  assert.deepEqual(
    { ...row },
    {
      cluster: 'AbCdEfGhIj',
      topic: 'quotes',
      partition: 2,
      offset: 42,
      kafka_key: 'Homer',
      headers: meta.headers,
      kafka_timestamp: '2023-11-14T22:13:20.000Z',
      timestamp_type: 'CREATE_TIME',
      fingerprint: meta.fingerprint,
      ingested_at: row.ingested_at,
      extra: { extra: true },
      quote: 'Doh',
      character: 'Homer',
      character_direction: 'Right',
    },
  );
  assert.ok(
    typeof toRow(recordsTable(quoteType), good).ingested_at === 'string',
    'a record written outside a batch (a repair) is ingested now: never a null in a not-null column',
  );
  const at = new Date(0);
  const doc = toDocument(good, at);
  assert.deepEqual(JSON.parse(JSON.stringify(doc)), {
    _id: 'AbCdEfGhIj:quotes-2-42',
    quote: 'Doh',
    character: 'Homer',
    characterDirection: 'Right',
    extra: { extra: true },
    kafka: { key: 'Homer', headers: { source: 'api' }, timestamp: '2023-11-14T22:13:20.000Z', fp: meta.fingerprint },
    ingestedAt: at.toISOString(),
  });
  assert.equal(
    rebuildText(typeFields(quoteType), doc, doc.extra as Record<string, unknown>),
    valueText,
    'the document stands for the exact text',
  );
});

describe('value parts: the raw text is kept exactly when the parts would not rebuild it', () => {
  const names = typeFields(quoteType);
  const cases: [string, string, boolean][] = [
    ['compact, type order', '{"quote":"q","character":"c"}', false],
    ['compact, with extra', '{"quote":"q","character":"c","season":4,"tags":["a",{"b":1}]}', false],
    ['pretty-printed', '{"quote": "q", "character": "c"}', true],
    ['another field order', '{"character":"c","quote":"q"}', true],
    ['an explicit null', '{"quote":"q","character":"c","image":null}', true],
    ['a number JavaScript rounds', '{"quote":"q","character":"c","n":9007199254740993}', true],
    ['1.0', '{"quote":"q","character":"c","n":1.0}', true],
    ['an escaped character', '{"quote":"\\u00e9","character":"c"}', true],
    ['a __proto__ key', '{"quote":"q","character":"c","__proto__":{"x":1}}', true],
    ['integer-like keys (JavaScript reorders them)', '{"quote":"q","character":"c","b":1,"1":2}', true],
    ['a duplicate key', '{"quote":"q","character":"c","a":"x","a":"y"}', true],
    ['a duplicate nested key', '{"quote":"q","character":"c","a":{"b":"x","b":"y"}}', true],
    ['nested, compact', '{"quote":"q","character":"c","n":{"x":[true,null,{"y":"z"}],"e":{},"l":[]}}', false],
    ['a plain number', '{"quote":"q","character":"c","n":5,"f":-1.5e-7}', false],
    ['-0', '{"quote":"q","character":"c","n":-0}', true],
    ['a canonical escape', '{"quote":"say \\"hi\\"\\n","character":"c"}', false],
    ['an escaped slash', '{"quote":"a\\/b","character":"c"}', true],
    ['unicode as is', '{"quote":"Ça va? 🍩","character":"c"}', false],
  ];
  for (const [what, text, raw] of cases) {
    test(what, () => {
      const p = splitValue(names, JSON.parse(text), text);
      assert.equal(p.raw !== undefined, raw);
      if (!raw) assert.equal(JSON.stringify(JSON.parse(text)), text, 'the case itself: stringify gives the text back');
      if (p.raw === undefined) assert.equal(rebuildText(names, p.fields, p.extra), text);
      else assert.equal(p.extra, undefined, 'the raw text holds the other fields: they are not kept twice');
    });
  }
});

test('keys are kept once: text when it gives the bytes back, else base64', () => {
  assert.deepEqual(storedKey('Homer', 'SG9tZXI='), { text: 'Homer' });
  assert.deepEqual(storedKey(undefined, undefined), {});
  // A byte-order mark is dropped by the UTF-8 decoder: its text would not give the bytes back.
  const bom = Buffer.from([0xef, 0xbb, 0xbf, 0x41]).toString('base64');
  assert.deepEqual(storedKey('A', bom), { base64: bom });
  assert.equal(keyBase64Of('Homer', undefined), 'SG9tZXI=');
  assert.equal(keyBase64Of('A', bom), bom);
  assert.equal(keyBase64Of(null, null), null);
});

test('headers: a compact object when names are distinct field names and values text, else the list', () => {
  assert.deepEqual(compactHeaders([{ name: 'source', value: 'api' }]), { source: 'api' });
  assert.equal(compactHeaders([]), undefined);
  const twice = [
    { name: 'a', value: '1' },
    { name: 'a', value: '2' },
  ];
  assert.deepEqual(compactHeaders(twice), twice);
  const binary = [{ name: 'b', valueBase64: '3q2+7w==' }];
  assert.deepEqual(compactHeaders(binary), binary);
  assert.deepEqual(compactHeaders([{ name: 'x.y', value: '1' }]), [{ name: 'x.y', value: '1' }]);
  assert.deepEqual(expandHeaders({ source: 'api' }), [{ name: 'source', value: 'api' }]);
  assert.deepEqual(expandHeaders(twice), twice);
  assert.deepEqual(expandHeaders(undefined), []);
});

test('stored ids parse back to cluster and coordinates', () => {
  assert.deepEqual(parseStoredId('AbCd-_fGhI:quotes.v2-1-42'), {
    cluster: 'AbCd-_fGhI',
    coordinates: { topic: 'quotes.v2', partition: 1, offset: 42 },
  });
  assert.deepEqual(parseStoredId('my-topic-0-7'), {
    cluster: '',
    coordinates: { topic: 'my-topic', partition: 0, offset: 7 },
  });
  assert.equal(parseStoredId('nonsense'), undefined);
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

test("the sink file's quotes route accepts exactly what the hand-written quote schema accepts, unchanged", () => {
  const values: unknown[] = [
    { quote: 'Doh', character: 'Homer' },
    { quote: 'Doh', character: 'Homer', image: 'https://x.test/h.png', characterDirection: 'Right', season: 4 },
    { quote: 'Doh', character: 'Homer', image: null, characterDirection: null },
    { quote: 'Doh', character: 'Homer', image: 'HTTP://X.TEST/' },
    { quote: '  ', character: 'Homer' },
    { quote: 'Doh' },
    { quote: 'Doh', character: 5 },
    { quote: 'Doh', character: 'Homer', image: 'not a url' },
    { quote: 'Doh', character: 'Homer', image: 'javascript:alert(1)' },
    { quote: 'Doh', character: 'Homer', image: 'https://exa mple.test/' },
    { quote: 'Doh', character: 'Homer', image: 'http://' },
    { quote: 'Doh', character: 'Homer', image: 'https://x.test/a b.png' },
    { quote: 'Doh', character: 'Homer', image: 'https://bücher.test/x' },
    { quote: 'Doh', character: 'Homer', image: 'https://u:p@x.test/?q#f' },
    { quote: 'Doh', character: 'Homer', image: 'https://a<b/' },
    { quote: 'Doh', character: 'Homer', image: 'https://x.test ' },
    { quote: '\u00a0\n', character: 'Homer' },
    { quote: 'Doh', character: 'Homer', image: 7 },
    { quote: 'Doh', character: 'Homer', characterDirection: 3 },
    [1, 2],
    null,
    'just a string',
  ];
  for (const v of values) {
    const zod = quoteSchema.safeParse(v);
    assert.equal(quoteType.accepts?.(v) ?? false, zod.success, JSON.stringify(v));
    const route = quoteType.schema.safeParse(v);
    assert.equal(route.success, zod.success, JSON.stringify(v));
    if (route.success) assert.equal(route.data, v, 'the route returns the value itself');
  }
});

test('where the route and the hand-written schema differ: URLs the route takes as http(s) ones that `new URL` refuses, and none with no host', () => {
  const accepts = (image: string) => quoteType.accepts?.({ quote: 'Doh', character: 'Homer', image }) ?? false;
  const zod = (image: string) => quoteSchema.safeParse({ quote: 'Doh', character: 'Homer', image }).success;
  for (const image of ['http://x.test:99999/', 'http://1.2.3.256/'])
    assert.deepEqual([accepts(image), zod(image)], [true, false]);
  assert.deepEqual([accepts('http:///x.test'), zod('http:///x.test')], [false, true]);
});

test('timestamps are formatted as toISOString does, also far from now and before 1970', () => {
  const samples = [
    0, -1, 999, 1000, 1_700_000_000_123, 1_700_000_000_124, -210_866_803_200_000, 8_640_000_000_000_000,
    8_639_999_999_999_999, -62_198_755_200_001,
  ];
  for (let i = 0; i < 2000; i++) samples.push(Math.floor((Math.random() - 0.3) * 2e14));
  for (const ms of samples) assert.equal(isoTime(ms), new Date(ms).toISOString(), String(ms));
});
