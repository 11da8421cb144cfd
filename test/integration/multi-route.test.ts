/**
 * Several topics in one function, on the real stack, through the Lambda entry point: the sink file
 * named by SINK_FILE (the example's quotes and orders routes, on tables and collections of the
 * test's own), one event holding records of both routed topics and of a topic no route takes.
 * Asserted on what lands in Postgres and MongoDB.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { MongoClient } from 'mongodb';
import pg from 'pg';
import { parse, stringify } from 'yaml';
import { closeConnections, handler } from '../../handlers/sink';
import type { Config } from '../../lib/config';
import { buildEvent, toEventRecord } from '../../tools/emulator/event';
import { stackConfig, uniqueName } from '../helpers/env';
import { messageAt, quote } from '../helpers/factories';
import { order, ORDERS_SINK_FILE } from '../helpers/orders';

const id = uniqueName('multi').toLowerCase();
const names = {
  quotesTopic: `${id}_quotes`,
  ordersTopic: `${id}_orders`,
  unroutedTopic: `${id}_prices`,
  quotesTable: `${id}_quotes`,
  ordersTable: `${id}_orders`,
  deadLetters: `${id}_dl`,
};
const dir = mkdtempSync(path.join(os.tmpdir(), 'multi-route-'));

/** The example sink file, its orders route on a topic, table and collection of this test's own. */
function writeSinkFile(): string {
  const example = path.dirname(ORDERS_SINK_FILE);
  const file = parse(readFileSync(ORDERS_SINK_FILE, 'utf8')) as {
    $schema?: string;
    routes: Record<string, { topic: string; postgres: { table: string }; mongo: { collection: string } }>;
  };
  delete file.$schema;
  Object.assign(file.routes.orders, {
    topic: names.ordersTopic,
    postgres: { ...file.routes.orders.postgres, table: names.ordersTable },
    mongo: { ...file.routes.orders.mongo, collection: names.ordersTable },
  });
  for (const schema of ['quotes.schema.json', 'orders.schema.json'])
    copyFileSync(path.join(example, schema), path.join(dir, schema));
  writeFileSync(path.join(dir, 'sink.yaml'), stringify(file));
  return path.join(dir, 'sink.yaml');
}

// The quotes route's names come from the configuration; the orders route's from the sink file.
const env = {
  SINK_FILE: writeSinkFile(),
  KAFKA_TOPIC: names.quotesTopic,
  POSTGRES_QUOTES_TABLE: names.quotesTable,
  MONGO_COLLECTION: names.quotesTable,
  POSTGRES_DEAD_LETTER_TABLE: names.deadLetters,
  MONGO_DEAD_LETTER_COLLECTION: names.deadLetters,
  LOG_LEVEL: 'silent',
};

let config: Config;
let pool: pg.Pool;
let mongo: MongoClient;
before(async () => {
  // The handler's container reads the environment once, at its first event.
  Object.assign(process.env, env);
  config = stackConfig(env);
  pool = new pg.Pool({ connectionString: config.POSTGRES_URL, max: 1 });
  mongo = await MongoClient.connect(config.MONGO_URL);
});
after(async () => {
  await closeConnections();
  const t = (n: string) => `"${config.POSTGRES_SCHEMA}"."${n}"`;
  const dl = names.deadLetters;
  await pool.query(
    `drop table if exists ${[names.quotesTable, names.ordersTable, dl, `${dl}_tombstones`, `${dl}_clusters`].map(t).join(', ')}`,
  );
  const db = mongo.db(config.MONGO_DATABASE);
  for (const c of [names.quotesTable, names.ordersTable, dl])
    await db
      .collection(c)
      .drop()
      .catch(() => undefined);
  await Promise.all([pool.end(), mongo.close()]);
  rmSync(dir, { recursive: true, force: true });
});

const at = messageAt;

/** Bytes that are not UTF-8: kept as they came, whatever the topic. */
const NOT_UTF8 = Buffer.from([0xff, 0xfe, 0x00, 0x41]);

const event = () =>
  buildEvent(
    'self-managed',
    '127.0.0.1:9092',
    [
      at(names.quotesTopic, 0, 0, quote(0, { character: 'Moe' })),
      at(names.quotesTopic, 0, 1, quote(1, { character: 'Lisa' })),
      at(names.ordersTopic, 0, 0, order(0)),
      at(names.ordersTopic, 1, 0, order(1, { note: 'leave at the door' })),
      at(names.ordersTopic, 1, 1, order(2, { lines: [{ sku: 'SKU-2', quantity: 0 }] })),
      at(names.unroutedTopic, 0, 5, NOT_UTF8),
    ].map(toEventRecord),
  );

const rows = async (table: string, columns: string) =>
  (
    await pool.query(
      `select ${columns} from "${config.POSTGRES_SCHEMA}"."${table}" order by topic, partition, "offset"`,
    )
  ).rows as Record<string, unknown>[];
const docs = (collection: string) =>
  mongo.db(config.MONGO_DATABASE).collection(collection).find({}).sort({ _id: 1 }).toArray();

test('one event of two routed topics and an unrouted one: each route its table and collection, the unrouted record a route dead letter with its bytes; again, nothing new', async () => {
  const sent = event();
  const first = await handler(sent);
  assert.ok('routes' in first, JSON.stringify(first));
  assert.deepEqual(Object.keys(first.routes), ['quotes', 'orders']);
  assert.deepEqual(first.stores.postgres, { written: 4, alreadyPresent: 0 });

  const quotes = await rows(names.quotesTable, 'topic, "offset", character, quote');
  assert.deepEqual(quotes, [
    { topic: names.quotesTopic, offset: '0', character: 'Moe', quote: 'Quote 0' },
    { topic: names.quotesTopic, offset: '1', character: 'Lisa', quote: 'Quote 1' },
  ]);
  assert.deepEqual(
    (await docs(names.quotesTable)).map((d) => d.character),
    ['Moe', 'Lisa'],
  );

  // The orders route's derived, typed columns: bigint, double precision, timestamptz, text, jsonb.
  const orders = await rows(names.ordersTable, 'topic, partition, id, total, placed_at, status, customer, lines, note');
  const o0 = JSON.parse(order(0)) as Record<string, unknown>;
  assert.deepEqual(orders, [
    {
      topic: names.ordersTopic,
      partition: 0,
      id: '1000',
      total: 12.5,
      placed_at: new Date('2026-12-04T18:00:00Z'),
      status: 'placed',
      customer: o0.customer,
      lines: o0.lines,
      note: null,
    },
    {
      topic: names.ordersTopic,
      partition: 1,
      id: '1001',
      total: 13.5,
      placed_at: new Date('2026-12-04T18:01:00Z'),
      status: 'paid',
      customer: { name: 'Customer 1', email: 'c1@example.test' },
      lines: [{ sku: 'SKU-1', quantity: 2, price: 13.5 }],
      note: 'leave at the door',
    },
  ]);
  // The text properties are document fields; the value is kept whole (here as its raw text: its
  // text fields do not come first).
  const orderDocs = await docs(names.ordersTable);
  assert.deepEqual(
    orderDocs.map((d) => [d.status, d.note, d.raw]),
    [
      ['placed', undefined, order(0)],
      ['paid', 'leave at the door', order(1, { note: 'leave at the door' })],
    ],
  );
  // No record of one route in the other's table.
  assert.equal((await rows(names.quotesTable, 'topic')).length, 2);

  const dead = await rows(names.deadLetters, 'topic, partition, "offset", error_kind, error, value_base64');
  assert.deepEqual(
    dead.map((d) => [d.topic, d.partition, d.offset, d.error_kind]),
    [
      [names.ordersTopic, 1, '1', 'schema'],
      [names.unroutedTopic, 0, '5', 'route'],
    ],
  );
  assert.match(String(dead[0].error), /lines\.0\.quantity/);
  assert.equal(dead[1].value_base64, NOT_UTF8.toString('base64'));
  assert.equal(dead[1].value_base64, sent.records[`${names.unroutedTopic}-0`][0].value);

  const again = await handler(event());
  assert.ok('routes' in again);
  assert.deepEqual(again.stores.postgres, { written: 0, alreadyPresent: 4 });
  assert.deepEqual(again.stores.mongo, { written: 0, alreadyPresent: 4 });
  assert.equal((await rows(names.quotesTable, 'topic')).length, 2);
  assert.equal((await rows(names.ordersTable, 'topic')).length, 2);
  assert.equal((await docs(names.quotesTable)).length, 2);
  assert.equal((await docs(names.ordersTable)).length, 2);
  assert.equal((await rows(names.deadLetters, 'topic')).length, 2);
});
