/**
 * docs/own-topic.md ("Sink your own topic") run as written, so the page cannot go stale: every
 * command of its `sh` blocks, in order, through bash in the project folder. The test's own names
 * replace the example's: SINK_FILE is a copy of examples/orders/sink.yaml whose orders route has a
 * topic, table and collection of this run (so the page's `export SINK_FILE=…` is left to the
 * test), and the lane's KAFKA_TOPIC, KAFKA_GROUP_ID, tables and collection are the quotes route's.
 * `npm run ui` runs until stopped: it is started on a free port, its Stores page for the route
 * read, then stopped. Checked: what landed in Postgres and Mongo (counts, one row's typed columns,
 * one document) against examples/orders/orders.jsonl.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MongoClient } from 'mongodb';
import { PROJECT_ROOT } from '../../lib/config';
import { uniqueName } from '../helpers/env';
import { lane, type Lane } from '../helpers/lane';
import { dropOrders, ordersSinkFileIn } from '../helpers/orders';
import { runCommand, startCommand, stopCommand } from '../helpers/run';

const PAGE = path.join(PROJECT_ROOT, 'docs', 'own-topic.md');
const EXAMPLE = path.join(PROJECT_ROOT, 'examples', 'orders');
/** The example's orders, each line's text as written. */
const TEXTS = readFileSync(path.join(EXAMPLE, 'orders.jsonl'), 'utf8')
  .split('\n')
  .filter((l) => l.trim());
const LINES = TEXTS.map((l) => JSON.parse(l) as Record<string, unknown>);

/** The commands of the page's `sh` blocks, in order: one a line, comments and blank lines left out. */
function pageCommands(markdown: string): string[] {
  const blocks = [...markdown.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
  return blocks.flatMap((b) => b.split('\n').map((l) => l.replace(/(^|\s)#.*$/, '').trim())).filter(Boolean);
}

describe('docs/own-topic.md, run as written', () => {
  const tmp = mkdtempSync(path.join(tmpdir(), 'quotes-sink-own-topic-'));
  let l: Lane;
  let name: string;
  let env: Record<string, string>;
  let mongo: MongoClient;

  before(async () => {
    l = await lane('own');
    name = uniqueName('orders').toLowerCase();
    env = { ...l.env, SINK_FILE: ordersSinkFileIn(tmp, name), LOG_LEVEL: 'warn' };
    mongo = await MongoClient.connect(l.sb.config.MONGO_URL);
  });

  after(async () => {
    await dropOrders(l, name);
    await mongo.close();
    await l.close();
    if (!process.env.KEEP_TMP) rmSync(tmp, { recursive: true, force: true });
  });

  test("the page's commands, in order: doctor, migrate, produce, local, ui", async () => {
    const commands = pageCommands(readFileSync(PAGE, 'utf8'));
    const exported = commands.filter((c) => c.startsWith('export '));
    assert.deepEqual(exported, ['export SINK_FILE=examples/orders/sink.yaml'], 'the page names the example');
    const run = commands.filter((c) => !c.startsWith('export '));
    assert.deepEqual(
      run.map((c) => /^npm run (\S+)/.exec(c)?.[1]),
      ['doctor', 'migrate', 'produce', 'local', 'ui'],
      'the page walks through these commands',
    );
    for (const command of run.slice(0, -1)) {
      const r = await runCommand('bash', ['-c', command], env, 240_000);
      assert.equal(r.code, 0, `${command}\n${r.stdout}${r.stderr}`);
    }
    const ui = run[run.length - 1];
    const { child, output } = await startCommand('bash', ['-c', `${ui} -- --port 0`], env, /UI on http:\S+/);
    try {
      const url = /UI on (http:\S+)/.exec(output())?.[1] as string;
      // The route picker's choice: the orders route's table, collection and counts, and both stores agree.
      const stores = await (await fetch(new URL('/stores?route=orders', url))).text();
      assert.ok(stores.includes(`${l.sb.config.POSTGRES_SCHEMA}.${name}`), 'the route table');
      assert.ok(stores.includes(`${l.sb.config.MONGO_DATABASE}.${name}`), 'the route collection');
      const counts = [...stores.matchAll(/<tr data-store="([^"]+)">[\s\S]*?class="num topic-count">(\d+)</g)];
      assert.deepEqual(
        counts.map((m) => Number(m[2])),
        [LINES.length, LINES.length, 0],
        'rows, documents, dead letters of the topic',
      );
      const check = await (await fetch(new URL('/stores?route=orders&check=1', url))).text();
      const differences = [...check.matchAll(/data-differences="(\d+)"/g)].map((m) => Number(m[1]));
      assert.ok(differences.length > 0 && differences.every((n) => n === 0), 'consistent');
      // The Records page of the route: each order with its row and document, by the route's group.
      const fates: string[] = [];
      for (const partition of [0, 1, 2]) {
        const records = await (await fetch(new URL(`/records?route=orders&partition=${partition}`, url))).text();
        assert.ok(records.includes(`${l.env.KAFKA_GROUP_ID}-orders`), "the route's consumer group");
        fates.push(...[...records.matchAll(/data-fate="([^"]+)"/g)].map((m) => m[1]));
      }
      assert.deepEqual(fates, Array<string>(LINES.length).fill('stored'));
    } finally {
      await stopCommand(child);
    }
  });

  test("what landed: one row and one document a line, typed columns, the record's fields", async () => {
    const [count] = await l.sb.query<{ n: number }>(`select count(*)::int as n from "${name}"`);
    assert.equal(count.n, LINES.length);
    const db = mongo.db(l.sb.config.MONGO_DATABASE);
    assert.equal(await db.collection(name).countDocuments(), LINES.length);
    const [dead] = await l.sb.query<{ n: number }>(`select count(*)::int as n from ${l.sb.tables.deadLetters}`);
    assert.equal(dead.n, 0, 'no dead letter');

    const types = await l.sb.query<{ column_name: string; data_type: string }>(
      `select column_name, data_type from information_schema.columns where table_name = $1`,
      [name],
    );
    const typeOf = Object.fromEntries(types.map((t) => [t.column_name, t.data_type]));
    assert.deepEqual(
      {
        id: typeOf.id,
        total: typeOf.total,
        placed_at: typeOf.placed_at,
        status: typeOf.status,
        customer: typeOf.customer,
        lines: typeOf.lines,
        note: typeOf.note,
      },
      {
        id: 'bigint',
        total: 'double precision',
        placed_at: 'timestamp with time zone',
        status: 'text',
        customer: 'jsonb',
        lines: 'jsonb',
        note: 'text',
      },
    );

    const sent = LINES[1];
    const [row] = await l.sb.query<Record<string, unknown>>(
      `select id::text, total, placed_at, status, customer, lines, note, kafka_key, extra, raw_value from "${name}" where id = $1`,
      [sent.id],
    );
    assert.deepEqual(row, {
      id: String(sent.id),
      total: sent.total,
      placed_at: new Date(sent.placedAt as string),
      status: sent.status,
      customer: sent.customer,
      lines: sent.lines,
      note: sent.note,
      kafka_key: String(sent.id),
      extra: null,
      raw_value: TEXTS[1], // the typed columns are copies: the value is kept as sent
    });

    // The document keeps the text properties as fields, and the value as sent (`raw`).
    const doc = await db.collection(name).findOne({ 'kafka.key': String(sent.id) });
    assert.ok(doc, `a document of order ${String(sent.id)}`);
    assert.deepEqual(
      { status: doc.status, note: doc.note, raw: doc.raw, key: (doc.kafka as { key: string }).key },
      { status: sent.status, note: sent.note, raw: TEXTS[1], key: String(sent.id) },
    );
    assert.match(String(doc._id), new RegExp(`:${name}-\\d+-\\d+$`), 'the _id names the record');
  });
});
