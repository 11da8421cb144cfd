/**
 * The emulator with `--schema-registry URL --event-record-format JSON` (issue 23 item 3): quotes
 * produced as Confluent-framed Avro land in the same rows and documents as the same quotes produced
 * as JSON, field by field (all but where and when each was written: topic, partition, offset,
 * ingestion time, fingerprint, ids). The registry is Apicurio, started natively for this file.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ConfluentJsonDecoder, SchemaDecodeError } from '../../tools/emulator/schema-registry';
import { confluentFrame, readAvroSchema, registerSchema, valueSubject } from '../../tools/producer/avro';
import { emulate, lane, produce, type Lane } from '../helpers/lane';
import { startRegistry, type TestRegistry } from '../helpers/registry';

let json: Lane;
let avro: Lane;
let registry: TestRegistry;

before(async () => {
  registry = await startRegistry();
  json = await lane('emu_json');
  avro = await lane('emu_avro');
  avro.env.SCHEMA_REGISTRY_URL = registry.url;
});
after(async () => {
  await json?.close();
  await avro?.close();
  await registry?.stop();
});

/** Where and when a row or document was written, not what: left out of the comparison. */
const PLACE = /^(_id|topic|partition|offset|cluster|ingested_at|ingestedAt|fingerprint|fp|kafka_timestamp|timestamp)$/;
/** The producer's `fetched-at` header: when each run of `produce` read the file. */
const WHEN_HEADER = 'fetched-at';

/**
 * A row or document without where and when (also inside a document's `kafka` part); the
 * `fetched-at` header's value masked, the header kept.
 */
function what(r: Record<string, unknown>): Record<string, unknown> {
  const kept = Object.entries(r).filter(([k]) => !PLACE.test(k));
  return Object.fromEntries(
    kept.map(([k, v]) => [k, k === 'headers' ? maskWhen(v) : k === 'kafka' ? what(v as Record<string, unknown>) : v]),
  );
}

/** Headers as a row's array of { name, value } or a document's object. */
function maskWhen(headers: unknown): unknown {
  if (Array.isArray(headers)) {
    return headers.map((h) => ((h as { name?: unknown }).name === WHEN_HEADER ? { ...h, value: '(when)' } : h));
  }
  if (headers && typeof headers === 'object' && WHEN_HEADER in headers) return { ...headers, [WHEN_HEADER]: '(when)' };
  return headers;
}

function content(rows: Record<string, unknown>[]): Record<string, unknown>[] {
  const kept = rows.map(what);
  const key = (r: Record<string, unknown>) => JSON.stringify([r.character, r.quote]);
  return kept.sort((a, b) => key(a).localeCompare(key(b)));
}

test('Avro quotes through the emulator in JSON mode: the same rows and documents as JSON quotes', async () => {
  await produce(json, ['--topic', json.topic]);
  await produce(avro, ['--topic', avro.topic, '--format', 'avro', '--schema', 'schemas/quotes.avsc']);
  await emulate(json);
  const log = await emulate(avro, ['--schema-registry', registry.url, '--event-record-format', 'JSON']);
  assert.deepEqual(await avro.sb.counts(), await json.sb.counts(), log);
  assert.deepEqual((await json.sb.counts()).deadLetters, 0);
  const rows = (sb: Lane['sb']) => sb.query(`select * from ${sb.tables.records}`);
  const [jsonRows, avroRows] = [content(await rows(json.sb)), content(await rows(avro.sb))];
  assert.ok(jsonRows.length > 0);
  assert.deepEqual(avroRows, jsonRows);
  assert.deepEqual(content(await avro.sb.docs()), content(await json.sb.docs()));
});

test('the decoder: a framed value becomes its JSON with valueSchemaMetadata { dataFormat AVRO, schemaId }', async () => {
  const { text, type } = readAvroSchema('schemas/quotes.avsc');
  const id = await registerSchema(registry.url, valueSubject(avro.topic), text);
  const quote = { quote: "D'oh!", character: 'Homer Simpson', image: null, characterDirection: 'Right' };
  const framed = confluentFrame(id, type.toBuffer(quote)).toString('base64');
  const plain = Buffer.from('{"quote":"x"}').toString('base64');
  const base = { topic: avro.topic, partition: 0, timestamp: 0, timestampType: 'CREATE_TIME' as const, headers: [] };
  const [a, b] = await new ConfluentJsonDecoder(registry.url).decode([
    { ...base, offset: 0, value: framed },
    { ...base, offset: 1, value: plain },
  ]);
  assert.deepEqual(JSON.parse(Buffer.from(a.value!, 'base64').toString('utf8')), quote);
  assert.deepEqual(a.valueSchemaMetadata, { dataFormat: 'AVRO', schemaId: String(id) });
  // A value not framed for a registry goes on as it is.
  assert.deepEqual(b, { ...base, offset: 1, value: plain });
  // An id the registry does not know: a SchemaDecodeError (the destination with SCHEMA_NOT_FOUND is not done yet).
  const unknown = confluentFrame(999_999, type.toBuffer(quote)).toString('base64');
  await assert.rejects(
    new ConfluentJsonDecoder(registry.url).decode([{ ...base, offset: 2, value: unknown }]),
    SchemaDecodeError,
  );
});
