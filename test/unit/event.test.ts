import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InvalidEventError } from '../../lib/event/errors';
import { buildEvent, toEventRecord, toSignedBytes } from '../../tools/emulator/event';
import { decodeHeaders, decodeRecord, signedBytesToBuffer } from '../../lib/event/decode';
import { eventRecords, isBase64, parseEvent } from '../../lib/event/parse';
import { fixture } from '../helpers/factories';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const rec = (over: Record<string, unknown> = {}) => ({
  topic: 'quotes',
  partition: 0,
  offset: 1,
  timestamp: 1,
  timestampType: 'CREATE_TIME',
  key: b64('k'),
  value: b64('{"quote":"q","character":"c"}'),
  headers: [],
  ...over,
});
const event = (records: unknown[], over: Record<string, unknown> = {}) => ({
  eventSource: 'SelfManagedKafka',
  bootstrapServers: 'a:9092',
  records: { 'quotes-0': records },
  ...over,
});

test('both recorded fixtures parse, in both AWS shapes', () => {
  const msk = parseEvent(fixture('msk-event.json'));
  assert.equal(msk.eventSource, 'aws:kafka');
  assert.match(msk.eventSourceArn ?? '', /^arn:aws:kafka:/);
  const sm = parseEvent(fixture('self-managed-event.json'));
  assert.equal(sm.eventSource, 'SelfManagedKafka');
  assert.equal(sm.eventSourceArn, undefined);
  assert.ok(Object.keys(sm.records).length >= 3, 'several partitions');
  assert.equal(eventRecords(sm).length, 7);
});

test('signed Java bytes decode with b & 0xff; non-UTF-8 header values stay bytes (base64)', () => {
  assert.deepEqual(
    [...signedBytesToBuffer([-34, -83, -66, -17, -128, -1, 65])],
    [0xde, 0xad, 0xbe, 0xef, 0x80, 0xff, 0x41],
  );
  const headers = decodeHeaders([
    { source: toSignedBytes(Buffer.from('api')) },
    { bin: [-34, -83, -66, -17] },
    { accent: toSignedBytes(Buffer.from('café')) },
  ]);
  assert.deepEqual(headers, [
    { name: 'source', value: 'api' },
    { name: 'bin', valueBase64: Buffer.from([0xde, 0xad, 0xbe, 0xef]).toString('base64') },
    { name: 'accent', value: 'café' },
  ]);
  assert.deepEqual(toSignedBytes(Buffer.from([0, 127, 128, 255])), [0, 127, -128, -1]);
});

test('missing key, null key, tombstone (null or missing value)', () => {
  const { key: _k, ...noKey } = rec();
  const a = decodeRecord(parseEvent(event([noKey])).records['quotes-0'][0]);
  assert.equal(a.kind, 'value');
  assert.equal(a.meta.keyBase64, undefined);
  const b = decodeRecord(rec({ key: null }) as never);
  assert.equal(b.meta.keyText, undefined);
  assert.equal(decodeRecord(rec({ value: null }) as never).kind, 'tombstone');
  const { value: _v, ...noValue } = rec();
  assert.equal(decodeRecord(noValue as never).kind, 'tombstone');
});

describe('bad content becomes a typed record error, with coordinates', () => {
  const cases: [string, string][] = [
    [b64('{"quote": '), 'json'],
    [Buffer.from([0xc3, 0x28]).toString('base64'), 'utf8'],
    ['', 'json'],
    [b64('{"quote":"a\\u0000b","character":"c"}'), 'unstorable'],
    [b64('{"quote":"\\ud800","character":"c"}'), 'unstorable'],
    [b64('{"quote":"q","character":"c","x":{"$gt":""}}'), 'unstorable'],
    [b64('{"quote":"q","character":"c","a.b":1}'), 'unstorable'],
  ];
  for (const [value, kind] of cases) {
    test(`${kind}: ${Buffer.from(value, 'base64').toString('utf8').slice(0, 40) || '(empty)'}`, () => {
      const d = decodeRecord(rec({ value, offset: 42 }) as never);
      assert.equal(d.kind, 'error', value);
      if (d.kind === 'error') {
        assert.equal(d.error.kind, kind);
        assert.match(d.error.message, /quotes\/0\/42/);
      }
    });
  }
  test('a legal escape that only looks risky is fine', () => {
    assert.equal(
      decodeRecord(rec({ value: b64('{"quote":"\\ud83d\\ude00","character":"c"}') }) as never).kind,
      'value',
    );
  });
});

describe('events that are not Kafka events are rejected, naming the problem', () => {
  const bad: [unknown, RegExp][] = [
    [null, /not an object/],
    [{ eventSource: 'SelfManagedKafka', bootstrapServers: 'x' }, /no "records"/],
    [event([rec()], { eventSource: 'aws:sqs' }), /unknown eventSource "aws:sqs"/],
    [event([rec()], { eventSource: 'aws:kafka' }), /no eventSourceArn/],
    [event([rec({ value: 'not base64!' })]), /value is not base64/],
    [event([rec({ key: 'abc' })]), /key is not base64/],
    [event([rec({ partition: 1 })]), /does not match its key "quotes-0"/],
    [{ eventSource: 'SelfManagedKafka', bootstrapServers: 'x', records: { quotes: [] } }, /not "<topic>-<partition>"/],
    [event([rec({ headers: [{ h: [1, 999] }] })]), /not an array of bytes/],
    [event([rec({ timestampType: 'NOW' })]), /timestampType/],
  ];
  for (const [input, why] of bad) {
    test(String(why), () => {
      assert.throws(
        () => parseEvent(input),
        (e: unknown) => e instanceof InvalidEventError && why.test(e.message),
        String(why),
      );
    });
  }
});

test('topics with dashes in their name still split on the last dash', () => {
  const ev = {
    eventSource: 'SelfManagedKafka',
    bootstrapServers: 'x',
    records: { 'my-topic-2': [rec({ topic: 'my-topic', partition: 2 })] },
  };
  assert.equal(eventRecords(parseEvent(ev)).length, 1);
});

test('schema metadata fields are accepted and ignored', () => {
  const ev = event([
    rec({
      keySchemaMetadata: { dataFormat: 'AVRO', schemaId: '1' },
      valueSchemaMetadata: { dataFormat: 'JSON', schemaId: '2' },
    }),
  ]);
  assert.equal(decodeRecord(parseEvent(ev).records['quotes-0'][0]).kind, 'value');
});

test('isBase64 is strict', () => {
  assert.ok(isBase64(''));
  assert.ok(isBase64('YWJj'));
  assert.ok(!isBase64('YWJ'));
  assert.ok(!isBase64('YW=j'));
  assert.ok(!isBase64('Y W J j'));
});

test("buildEvent round-trips through parse and decode (the emulator's event)", () => {
  const records = [
    toEventRecord({
      topic: 'quotes',
      partition: 1,
      offset: '7',
      timestamp: '1700000000000',
      key: null,
      value: '{"quote":"q","character":"c"}',
      headers: { bin: Buffer.from([0xff, 0x00]) },
    }),
    toEventRecord({ topic: 'quotes', partition: 0, offset: 3, timestamp: 1, key: 'Homer', value: null }),
  ];
  assert.equal('key' in records[0], false, 'a missing key is left out');
  assert.equal(records[1].value, null);
  const ev = buildEvent('msk', 'a:1,b:2', records);
  assert.deepEqual(Object.keys(ev.records), ['quotes-1', 'quotes-0']);
  const parsed = parseEvent(JSON.parse(JSON.stringify(ev)));
  const d = decodeRecord(parsed.records['quotes-1'][0]);
  assert.deepEqual(d.meta.headers, [{ name: 'bin', valueBase64: '/wA=' }]);
  assert.equal(d.meta.coordinates.offset, 7);
  assert.equal(buildEvent('self-managed', 'a:1', records).eventSourceArn, undefined);
});
