/** tools/producer/avro.ts: Confluent's wire format and Avro encoding of JSON values (issue 23 item 5). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InputError } from '../../tools/cli/errors';
import {
  avroMessages,
  confluentFrame,
  parseConfluentFrame,
  readAvroSchema,
  valueSubject,
} from '../../tools/producer/avro';

const { type } = readAvroSchema('schemas/quotes.avsc');

test('confluentFrame: byte 0, the id as 4 bytes big-endian, then the payload; parseConfluentFrame reverses it', () => {
  const framed = confluentFrame(0x01020304, Buffer.from([9, 8]));
  assert.deepEqual([...framed], [0, 1, 2, 3, 4, 9, 8]);
  assert.deepEqual(parseConfluentFrame(framed), { schemaId: 0x01020304, payload: Buffer.from([9, 8]) });
  assert.equal(parseConfluentFrame(Buffer.from('{"a":1}')), undefined);
  assert.equal(parseConfluentFrame(Buffer.from([0, 0, 1])), undefined);
});

test('valueSubject: TopicNameStrategy', () => assert.equal(valueSubject('quotes'), 'quotes-value'));

test('avroMessages: each JSON value framed as Avro, key and headers kept; missing nullable fields decode as null', () => {
  const quote = { quote: "D'oh!", character: 'Homer Simpson' };
  const [m] = [...avroMessages([{ key: 'Homer Simpson', value: JSON.stringify(quote), headers: { s: 'x' } }], type, 7)];
  assert.equal(m.key, 'Homer Simpson');
  assert.deepEqual(m.headers, { s: 'x' });
  const frame = parseConfluentFrame(m.value as Buffer);
  assert.equal(frame?.schemaId, 7);
  assert.deepEqual(
    { ...(type.fromBuffer(frame!.payload) as object) },
    { ...quote, image: null, characterDirection: null },
  );
});

test('avroMessages: a value that is not JSON, or does not fit, is an InputError naming the record and field', () => {
  const bad = (value: string) => () => [
    ...avroMessages([{ value: '{"quote":"a","character":"b"}' }, { value }], type, 1),
  ];
  assert.throws(
    bad('{"quote": 1, "character": "b"}'),
    (e) => e instanceof InputError && /record 2: .*at quote/.test(e.message),
  );
  assert.throws(bad('not json'), (e) => e instanceof InputError && /record 2: the value is not JSON/.test(e.message));
});

test('readAvroSchema: a file that is not an Avro schema is an InputError naming it', () => {
  assert.throws(
    () => readAvroSchema('package.json'),
    (e) => e instanceof InputError && /package\.json: not an Avro schema/.test(e.message),
  );
});
