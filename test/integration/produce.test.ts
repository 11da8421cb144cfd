/**
 * `produce --topic T --file F.jsonl` on the real Kafka (issue 21 item 7): any JSON, one record per
 * line, read back byte for byte with its key; a file with a bad line sends nothing (exit 2, one line
 * per bad line naming file and line). Then `record --topic` turns that topic's records into an event
 * fixture, and `serverless invoke local` (`npm run invoke -- -p FILE`) runs the function on it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { eventRecords, parseEvent } from '../../lib/event/parse';
import { lane, readTopic, type Lane } from '../helpers/lane';
import type { BatchSummary } from '../../lib/sink/batch';
import { runCommand, SERVERLESS, TSX, type RunResult } from '../helpers/run';

const NO_STACK_TRACE = /\n\s+at /;

/** Line i of the good file: varied JSON (nesting, unicode, escapes, spacing), keyed by `/id`. */
function line(i: number): string {
  const kinds = [
    () => JSON.stringify({ id: `order-${i}`, total: i * 1.25, items: [{ sku: `s${i}`, qty: i % 4 }] }),
    () => `{ "id" : ${i},  "note": "spaced  as written", "ok": true }`,
    () => JSON.stringify({ id: `ü-${i}-😀`, text: 'quote "inside" and \\ backslash', nested: { a: [null, 1] } }),
    () => `{"id":"${i}","deep":{"x":{"y":{"z":[${i},${i + 1}]}}}}`,
    () => JSON.stringify({ id: true, n: i, when: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString() }),
  ];
  return kinds[i % kinds.length]();
}

/** The key `--key /id` gives line i. */
function keyOf(i: number): string {
  const id = (JSON.parse(line(i)) as { id: unknown }).id;
  return typeof id === 'string' ? id : JSON.stringify(id);
}

describe('produce --file F.jsonl', () => {
  let l: Lane;
  let dir: string;
  const produce = (args: string[]): Promise<RunResult> =>
    runCommand(TSX, ['cli/produce.ts', '--topic', l.topic, ...args], l.env, 60_000);
  const recordsOnTopic = async () =>
    (await l.admin.fetchTopicOffsets(l.topic)).reduce((n, p) => n + Number(p.high) - Number(p.low), 0);

  before(async () => {
    l = await lane('produce_lines');
    dir = mkdtempSync(path.join(os.tmpdir(), 'produce-lines-'));
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await l?.close();
  });

  test('a file with a bad line sends nothing: exit 2, one line naming file and line, no stack trace', async () => {
    const file = path.join(dir, 'bad.jsonl');
    const lines = Array.from({ length: 20 }, (_, i) => line(i));
    lines.splice(12, 0, '{"id": 13, "truncated": ');
    writeFileSync(file, `${lines.join('\n')}\n`);
    const r = await produce(['--file', file, '--key', '/id']);
    assert.equal(r.code, 2, `${r.stdout}${r.stderr}`);
    const out = r.stderr.trim().split('\n');
    assert.equal(out.length, 1, r.stderr);
    assert.match(out[0], new RegExp(`^produce: ${file.replace(/[.]/g, '\\.')}:13: not JSON \\(`));
    assert.doesNotMatch(r.stderr, NO_STACK_TRACE);
    assert.equal(r.stdout, '');
    assert.equal(await recordsOnTopic(), 0, 'records were sent');
  });

  test('every bad line is its own line (not JSON, no key at --key); nothing sent', async () => {
    const file = path.join(dir, 'bad3.jsonl');
    writeFileSync(file, [line(0), 'not json', line(1), '[1, 2]', '{"id": }', line(2)].join('\n'));
    const r = await produce(['--file', file, '--key', '/id']);
    assert.equal(r.code, 2, `${r.stdout}${r.stderr}`);
    const out = r.stderr.trim().split('\n');
    assert.deepEqual(
      out.map((s) => /^produce: (.+?):(\d+): (not JSON|no key)/.exec(s)?.slice(1)),
      [
        [file, '2', 'not JSON'],
        [file, '4', 'no key'],
        [file, '5', 'not JSON'],
      ],
      r.stderr,
    );
    assert.equal(await recordsOnTopic(), 0, 'records were sent');
  });

  test('50 lines: 50 records, each value the exact bytes of its line, keyed by --key /id', async () => {
    const file = path.join(dir, 'orders.jsonl');
    const lines = Array.from({ length: 50 }, (_, i) => line(i));
    // Blank lines are skipped; a CRLF line end is a line end, not part of the value.
    writeFileSync(file, `${lines.slice(0, 25).join('\n')}\n\n   \n${lines.slice(25, 49).join('\r\n')}\r\n${lines[49]}`);
    const r = await produce(['--file', file, '--key', '/id']);
    assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
    assert.match(r.stdout, new RegExp(`^produced 50 records to ${l.topic} from ${file.replace(/[.]/g, '\\.')} in `));
    assert.equal(await recordsOnTopic(), 50);
    const read = await readTopic(l, l.topic);
    const got = read.map(({ message: m }) => [m.key?.toString('utf8'), m.value?.toString('utf8')]);
    const want = lines.map((text, i) => [keyOf(i), text]);
    const byValue = (a: (string | undefined)[], b: (string | undefined)[]) => String(a[1]).localeCompare(String(b[1]));
    assert.deepEqual(got.sort(byValue), want.sort(byValue));
    // Exact bytes: the UTF-8 of each line as written, nothing re-serialised.
    const bytes = new Set(lines.map((s) => Buffer.from(s, 'utf8').toString('hex')));
    for (const { message } of read) assert.ok(bytes.has(message.value?.toString('hex') ?? ''), 'bytes changed');
    assert.equal(read[0].message.headers?.source?.toString(), file);
  });

  test('no --key: records have no key; any JSON value is a record', async () => {
    const topicBefore = await recordsOnTopic();
    const file = path.join(dir, 'any.ndjson');
    const values = ['"a string"', '42', 'null', '[1,{"a":2}]', '{"no":"id"}', 'true'];
    writeFileSync(file, `${values.join('\n')}\n`);
    const r = await produce(['--file', file]);
    assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
    const read = (await readTopic(l, l.topic)).filter((m) => !m.message.key);
    assert.equal((await recordsOnTopic()) - topicBefore, values.length);
    assert.deepEqual(read.map((m) => m.message.value?.toString()).sort(), [...values].sort());
  });

  test('record --topic: the topic as an event fixture the function parses, values as sent', async () => {
    const out = path.join(dir, 'event.json');
    const r = await runCommand(
      TSX,
      ['cli/record.ts', '--topic', l.topic, '--from-beginning', '--batch-size', '1000', '--out', out],
      { ...l.env, KAFKA_TOPIC: 'quotes' },
      60_000,
    );
    assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
    assert.match(r.stdout, new RegExp(`^recorded 56 records from \\d partitions of ${l.topic} to `));
    const records = eventRecords(parseEvent(JSON.parse(readFileSync(out, 'utf8'))));
    assert.equal(records.length, 56);
    assert.ok(records.every((x) => x.topic === l.topic));
    const values = records.map((x) => Buffer.from(x.value ?? '', 'base64').toString('utf8'));
    for (let i = 0; i < 50; i++) assert.ok(values.includes(line(i)), `line ${i + 1} missing from the event`);
  });

  test('npm run invoke -p FIXTURE (serverless invoke local) takes that event: every record accounted for', async () => {
    // The fixture the test above recorded; the function's tables and collection are the lane's own.
    const env = Object.entries({ ...l.sb.env, LOG_LEVEL: 'silent' }).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
    const fixture = path.join(dir, 'event.json');
    const r = await runCommand(SERVERLESS, ['invoke', 'local', '-f', 'sink', '-p', fixture, ...env], {}, 120_000);
    assert.equal(r.code, 0, `invoke local failed:\n${r.stdout}\n${r.stderr}`);
    // The summary is the last JSON object invoke local prints (after the function's metrics line).
    const start = r.stdout.lastIndexOf('\n{\n');
    const summary = JSON.parse(r.stdout.slice(start >= 0 ? start + 1 : r.stdout.indexOf('{'))) as BatchSummary;
    assert.equal(summary.received, 56);
    assert.deepEqual(Object.keys(summary.partitions).sort(), [0, 1, 2].map((p) => `${l.topic}-${p}`).sort());
    // Stored or a dead letter, each record once, whatever the function makes of this topic's values.
    const { rows, docs, deadLetters } = await l.sb.counts();
    assert.equal(rows + deadLetters, 56, JSON.stringify(summary));
    assert.equal(docs, rows);
  });
});
