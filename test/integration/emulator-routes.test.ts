/**
 * The emulator with two routes (issue 21): one mapping per routed topic, as AWS runs them, each
 * with its own consumer group (`KAFKA_GROUP_ID` for quotes, `<KAFKA_GROUP_ID>-orders` for orders)
 * and positions, calling the same function. Asserted on what the emulator owns: the groups'
 * committed offsets, the events (each of one topic) and the quotes route's rows.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MongoClient } from 'mongodb';
import { Partitioners } from 'kafkajs';
import { parse, stringify } from 'yaml';
import { PROJECT_ROOT } from '../../lib/config';
import type { BatchSummary } from '../../lib/sink/batch';
import { createKafka } from '../../tools/kafka';
import { uniqueName } from '../helpers/env';
import { committedOffsets, jsonLines, lane, produce, runEmulator, type Lane } from '../helpers/lane';

const tmp = mkdtempSync(path.join(tmpdir(), 'quotes-sink-emulator-routes-'));
after(() => process.env.KEEP_TMP || rmSync(tmp, { recursive: true, force: true }));

const ORDERS = 40;
const QUOTES = 150;

/** `n` orders as the example's schema describes them (examples/orders/orders.schema.json). */
const orders = (n: number) =>
  Array.from({ length: n }, (_, i) => ({
    partition: i % 3,
    key: `order-${i}`,
    value: JSON.stringify({
      id: i + 1,
      total: 9.5 + i,
      placedAt: new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString(),
      status: 'placed',
      customer: { name: `customer ${i % 7}` },
      lines: [{ sku: `sku-${i}`, quantity: 1 + (i % 3) }],
    }),
  }));

interface ExampleRoute {
  topic: string;
  postgres: { table: string };
  mongo: { collection: string };
}

/**
 * The example's two-route sink file (examples/orders/sink.yaml) copied into `tmp` with its schemas,
 * the orders route on `topic` with a table and collection of its own (quotes: KAFKA_TOPIC and the lane's).
 */
function twoRouteSinkFile(topic: string, table: string): string {
  const dir = path.join(PROJECT_ROOT, 'examples', 'orders');
  const example = parse(readFileSync(path.join(dir, 'sink.yaml'), 'utf8')) as {
    routes: { quotes: ExampleRoute; orders: ExampleRoute };
  };
  for (const name of ['quotes.schema.json', 'orders.schema.json'])
    copyFileSync(path.join(dir, name), path.join(tmp, name));
  const o = example.routes.orders;
  example.routes.orders = { ...o, topic, postgres: { ...o.postgres, table }, mongo: { ...o.mongo, collection: table } };
  const file = path.join(tmp, 'sink.yaml');
  writeFileSync(file, stringify({ routes: example.routes }));
  return file;
}

/** The end offset of every partition of `topic`. */
async function ends(l: Lane, topic: string): Promise<Record<number, number>> {
  const offsets = await l.admin.fetchTopicOffsets(topic);
  return Object.fromEntries(offsets.map((p) => [p.partition, Number(p.high)]));
}

describe('two routes in one emulator run: one mapping, group and position per topic', () => {
  let l: Lane;
  let ordersTopic: string;
  let ordersTable: string;
  let sinkFile: string;

  before(async () => {
    l = await lane('routes');
    ordersTopic = uniqueName('t_orders');
    ordersTable = `${uniqueName('orders').toLowerCase()}_orders`;
    await l.admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic: ordersTopic, numPartitions: 3, replicationFactor: 1 }],
    });
    sinkFile = twoRouteSinkFile(ordersTopic, ordersTable);
    await produce(l, ['--synthetic', String(QUOTES), '--seed', '21']);
    const producer = createKafka(l.sb.config, 'emulator-routes-test').producer({
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await producer.connect();
    try {
      await producer.send({ topic: ordersTopic, messages: orders(ORDERS) });
    } finally {
      await producer.disconnect();
    }
  });

  after(async () => {
    await l.admin.deleteTopics({ topics: [ordersTopic] }).catch(() => undefined);
    // The orders route's own table and collection, once the function routes by topic.
    await l.sb.query(`drop table if exists "${ordersTable}"`).catch(() => undefined);
    const mongo = await MongoClient.connect(l.sb.config.MONGO_URL);
    await mongo
      .db(l.sb.config.MONGO_DATABASE)
      .collection(ordersTable)
      .drop()
      .catch(() => undefined);
    await mongo.close();
    await l.close();
  });

  test('each group commits its own topic to the end; every event is one topic; quotes rows land once', async () => {
    const logFile = path.join(tmp, 'run.log');
    const group = l.env.KAFKA_GROUP_ID;
    const r = await runEmulator(
      l,
      ['--until-idle', '--no-template', '--batch-size', '25', '--log-file', logFile],
      { SINK_FILE: sinkFile, LOG_LEVEL: 'info' }, // info: the batch reports go to the log file
      180_000,
    );
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, new RegExp(`route orders: topic ${ordersTopic}, group ${group}-orders`));
    assert.match(
      r.output,
      new RegExp(`routes: quotes ${QUOTES} records \\(lag 0\\), orders ${ORDERS} records \\(lag 0\\)`),
    );

    // One consumer group per mapping, each at the end of its own topic, and only there.
    assert.deepEqual(await committedOffsets(l, group), await ends(l, l.topic));
    const [ordersOffsets] = await l.admin.fetchOffsets({ groupId: `${group}-orders`, topics: [ordersTopic] });
    const committed = Object.fromEntries(ordersOffsets.partitions.map((p) => [p.partition, Number(p.offset)]));
    assert.deepEqual(committed, await ends(l, ordersTopic));
    const [crossed] = await l.admin.fetchOffsets({ groupId: group, topics: [ordersTopic] });
    assert.ok(
      crossed.partitions.every((p) => Number(p.offset) === -1),
      'the quotes group never reads orders',
    );

    // Every record reached the function, in events of one topic each (one mapping each).
    // The handler's own report of each invocation (it says coldStart; the emulator's copy of it does not).
    const summaries = jsonLines(readFileSync(logFile, 'utf8'))
      .filter((line) => line.msg === 'batch written' && 'coldStart' in line)
      .map((line) => line.summary as BatchSummary);
    const topicOf = (key: string) => key.slice(0, key.lastIndexOf('-'));
    const received: Record<string, number> = {};
    for (const s of summaries) {
      const topics = new Set(Object.keys(s.partitions).map(topicOf));
      assert.equal(topics.size, 1, `an event of one topic: ${JSON.stringify(s.partitions)}`);
      const [topic] = topics;
      received[topic] = (received[topic] ?? 0) + s.received;
    }
    assert.deepEqual(received, { [l.topic]: QUOTES, [ordersTopic]: ORDERS });

    // Each route's table and collection got its own records once, and nothing was dead-lettered.
    assert.deepEqual(await counts(), { quotes: QUOTES, orders: ORDERS, ordersDocs: ORDERS, deadLetters: 0 });
  });

  test('a second run adds nothing: each group resumes at its own position', async () => {
    const logFile = path.join(tmp, 'again.log');
    const r = await runEmulator(l, ['--until-idle', '--no-template', '--log-file', logFile], {
      SINK_FILE: sinkFile,
      LOG_LEVEL: 'info',
    });
    assert.equal(r.code, 0, r.output);
    const batches = jsonLines(readFileSync(logFile, 'utf8')).filter((line) => line.msg === 'batch written');
    assert.equal(batches.length, 0, 'nothing left to deliver');
    assert.match(r.output, /routes: quotes 0 records \(lag 0\), orders 0 records \(lag 0\)/);
    assert.deepEqual(await counts(), { quotes: QUOTES, orders: ORDERS, ordersDocs: ORDERS, deadLetters: 0 });
  });

  /** Rows of each route's table, the orders collection's documents, and the dead letters. */
  async function counts() {
    const n = async (table: string) =>
      (await l.sb.query<{ n: number }>(`select count(*)::int as n from ${table}`))[0].n;
    const mongo = await MongoClient.connect(l.sb.config.MONGO_URL);
    try {
      return {
        quotes: await n(l.sb.tables.records),
        orders: await n(`"${ordersTable}"`),
        ordersDocs: await mongo.db(l.sb.config.MONGO_DATABASE).collection(ordersTable).countDocuments(),
        deadLetters: await n(l.sb.tables.deadLetters),
      };
    } finally {
      await mongo.close();
    }
  }
});
