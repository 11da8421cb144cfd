/**
 * `produce --format avro --schema schemas/quotes.avsc` (issue 23 item 5) against a real registry
 * (Apicurio, test/helpers/registry.ts): the schema is registered under `<topic>-value`, and every
 * value on the topic is Confluent-framed Avro (byte 0, the registry's id for the subject, 4 bytes
 * big-endian) that decodes, with the schema the registry serves for that id, to the quote sent.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { SAMPLE_FILE } from '../../tools/producer/publish';
import { avroType } from '../../tools/producer/avro';
import { lane, readTopic, type Lane } from '../helpers/lane';
import { startRegistry, type TestRegistry } from '../helpers/registry';
import { runCommand, TSX } from '../helpers/run';

let l: Lane;
let registry: TestRegistry;

before(async () => {
  registry = await startRegistry();
  l = await lane('produce_avro');
});
after(async () => {
  await l?.close();
  await registry?.stop();
});

const getJson = async <T>(url: string): Promise<T> => {
  const res = await fetch(url);
  assert.equal(res.status, 200, `${url}: ${await res.clone().text()}`);
  return (await res.json()) as T;
};

test('quotes as Avro: Confluent framing with the subject id, decoding to the original quotes', async () => {
  const quotes = JSON.parse(readFileSync(SAMPLE_FILE, 'utf8')) as Record<string, unknown>[];
  const args = ['cli/produce.ts', '--topic', l.topic, '--format', 'avro', '--schema', 'schemas/quotes.avsc'];
  const r = await runCommand(TSX, args, { ...l.env, SCHEMA_REGISTRY_URL: registry.url }, 60_000);
  assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
  assert.match(r.stderr, new RegExp(`registered as ${l.topic}-value, id \\d+`));

  const latest = await getJson<{ id: number; subject: string }>(
    `${registry.url}/subjects/${l.topic}-value/versions/latest`,
  );
  const { schema } = await getJson<{ schema: string }>(`${registry.url}/schemas/ids/${latest.id}`);
  const type = avroType(JSON.parse(schema));

  const read = await readTopic(l, l.topic, quotes.length);
  assert.equal(read.length, quotes.length);
  const decoded = read.map(({ message }) => {
    const value = message.value as Buffer;
    assert.equal(value[0], 0, 'magic byte');
    assert.equal(value.readUInt32BE(1), latest.id, 'schema id');
    // A plain object, as JSON would give it (avsc returns an instance of its record class).
    return { key: message.key?.toString(), value: { ...(type.fromBuffer(value.subarray(5)) as object) } };
  });
  const sortKey = (q: Record<string, unknown>) => `${String(q.character)}\u0000${String(q.quote)}`;
  const got = decoded
    .map((d) => d.value as Record<string, unknown>)
    .sort((a, b) => sortKey(a).localeCompare(sortKey(b)));
  const sent = [...quotes].sort((a, b) => sortKey(a).localeCompare(sortKey(b)));
  assert.deepEqual(got, sent);
  // The key stays the character, as for JSON quotes.
  for (const d of decoded) assert.equal(d.key, (d.value as { character: string }).character);
});

test('a quote that does not fit the schema: exit 2, naming the record and the field', async () => {
  const file = `${registry.dir}/bad.json`;
  writeFileSync(
    file,
    JSON.stringify([
      { quote: 'ok', character: 'Homer' },
      { quote: 42, character: 'Bart' },
    ]),
  );
  const args = ['cli/produce.ts', '--topic', l.topic, '--format', 'avro', '--schema', 'schemas/quotes.avsc'];
  const r = await runCommand(TSX, [...args, '--file', file], { ...l.env, SCHEMA_REGISTRY_URL: registry.url }, 60_000);
  assert.equal(r.code, 2, `${r.stdout}${r.stderr}`);
  assert.match(r.stderr, /record 2: does not fit the schema at quote/);
});
