/**
 * Several routes in one batch, over in-memory stores: each record goes to its topic's route (its
 * type, its own stores), a record of a topic with no route is a dead letter of kind `route` with
 * its bytes, the summary has the totals and each route's part, partial batch responses name what
 * is left across routes, and the EMF lines carry a `Route` dimension.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { build } from 'esbuild';
import { createSinkHandler } from '../../handlers/sink';
import { loadConfig, PROJECT_ROOT } from '../../lib/config';
import { createLogger } from '../../lib/log';
import { routeTargets } from '../../lib/routes/default';
import { IncompleteBatchError, processBatch } from '../../lib/sink/batch';
import { StoreWriteError } from '../../lib/sink/errors';
import { emfDocuments } from '../../lib/sink/metrics';
import { routeStores, type RoutedStores } from '../../lib/sink/port';
import { processRoutedBatch, splitByRoute } from '../../lib/sink/route';
import { buildEvent, toEventRecord } from '../../tools/emulator/event';
import { failingWrites } from '../helpers/faults';
import { messageAt, quote } from '../helpers/factories';
import { MemoryDeadLetterStore, MemoryRecordStore } from '../helpers/memory-stores';
import { order, ORDERS_SINK_FILE, routesOf } from '../helpers/orders';
import { sinkFilePlugin } from '../../tools/routes/bundle';

const config = loadConfig({});
const [quotesPlan, ordersPlan] = routeTargets(config, routesOf());

/** The two routes of the example sink file on stores of their own, and one dead-letter store. */
function twoRoutes() {
  type Value = Record<string, unknown>;
  const own = () => ({
    postgres: new MemoryRecordStore<Value>('postgres'),
    mongo: new MemoryRecordStore<Value>('mongo'),
  });
  const quotes = own();
  const orders = own();
  const dead = new MemoryDeadLetterStore();
  const stores: RoutedStores = {
    routes: [
      routeStores({ ...quotesPlan, records: [quotes.postgres, quotes.mongo] }),
      routeStores({ ...ordersPlan, records: [orders.postgres, orders.mongo] }),
    ],
    deadLetters: dead,
  };
  return { stores, quotes, orders, dead };
}

const at = messageAt;

/** One event: quotes on quotes-0 (one not a quote), orders on orders-0 and -1, and two records of a topic no route takes. */
const mixed = () =>
  buildEvent(
    'self-managed',
    '127.0.0.1:9092',
    [
      at('quotes', 0, 0, quote(0)),
      at('quotes', 0, 1, quote(1)),
      at('quotes', 0, 2, JSON.stringify({ quote: 'no character' })),
      at('orders', 0, 0, order(0)),
      at('orders', 1, 0, order(1)),
      at('orders', 1, 1, order(2, { total: 'free' })),
      at('prices', 0, 7, 'not JSON at all'),
      at('prices', 0, 8, null),
    ].map(toEventRecord),
  );

const opts = { tombstones: 'skip' as const };

describe('routing a batch by topic', () => {
  test("each route's records land in its own stores; an unrouted topic's records are dead letters of kind route, bytes kept", async () => {
    const { stores, quotes, orders, dead } = twoRoutes();
    const event = mixed();
    const s = await processRoutedBatch(event, stores, opts);
    const ids = (m: MemoryRecordStore<Record<string, unknown>>) => [...m.byId.values()].map((g) => g.meta.coordinates);
    assert.deepEqual(ids(quotes.postgres), [
      { topic: 'quotes', partition: 0, offset: 0 },
      { topic: 'quotes', partition: 0, offset: 1 },
    ]);
    assert.deepEqual(ids(quotes.mongo), ids(quotes.postgres));
    assert.deepEqual(ids(orders.postgres), [
      { topic: 'orders', partition: 0, offset: 0 },
      { topic: 'orders', partition: 1, offset: 0 },
    ]);
    assert.deepEqual(ids(orders.mongo), ids(orders.postgres));
    assert.deepEqual([...orders.postgres.byId.values()][0].value, JSON.parse(order(0)));
    const letters = [...dead.byId.values()].map((d) => ({
      at: `${d.meta.coordinates.topic}-${d.meta.coordinates.partition}-${d.meta.coordinates.offset}`,
      kind: d.error.kind,
      valueBase64: d.valueBase64,
    }));
    const prices = event.records['prices-0'];
    assert.deepEqual(letters, [
      { at: 'quotes-0-2', kind: 'schema', valueBase64: event.records['quotes-0'][2].value },
      { at: 'orders-1-1', kind: 'schema', valueBase64: event.records['orders-1'][1].value },
      { at: 'prices-0-7', kind: 'route', valueBase64: prices[0].value },
      { at: 'prices-0-8', kind: 'route', valueBase64: undefined },
    ]);
    assert.match(
      [...dead.byId.values()].find((d) => d.error.kind === 'schema' && d.meta.coordinates.topic === 'orders')?.error
        .detail ?? '',
      /total/,
    );
    assert.match([...dead.byId.values()][2].error.detail, /no route of the sink file takes topic prices/);

    // The totals, as a one-route summary has them, and each route's part.
    assert.equal(s.received, 8);
    assert.equal(s.valid, 4);
    assert.deepEqual(s.stores, {
      postgres: { written: 4, alreadyPresent: 0 },
      mongo: { written: 4, alreadyPresent: 0 },
    });
    assert.deepEqual(s.deadLettered, { written: 4, alreadyPresent: 0, byKind: { schema: 2, route: 2 } });
    assert.deepEqual(Object.keys(s.partitions), ['quotes-0', 'orders-0', 'orders-1', 'prices-0']);
    assert.deepEqual(Object.keys(s.routes), ['quotes', 'orders']);
    assert.equal(s.routes.quotes.received, 3);
    assert.deepEqual(s.routes.quotes.stores.postgres, { written: 2, alreadyPresent: 0 });
    assert.deepEqual(s.routes.quotes.deadLettered.byKind, { schema: 1 });
    assert.equal(s.routes.orders.received, 3);
    assert.deepEqual(s.routes.orders.stores.mongo, { written: 2, alreadyPresent: 0 });
    assert.deepEqual(Object.keys(s.routes.orders.partitions), ['orders-0', 'orders-1']);
    assert.deepEqual(s.unrouted?.topics, ['prices']);
    assert.equal(s.unrouted?.received, 2);
    assert.ok(s.warnings?.some((w) => /topic prices/.test(w)));

    // The same event again adds nothing anywhere.
    const again = await processRoutedBatch(event, stores, opts);
    assert.deepEqual(again.stores, {
      postgres: { written: 0, alreadyPresent: 4 },
      mongo: { written: 0, alreadyPresent: 4 },
    });
    assert.deepEqual(again.deadLettered, { written: 0, alreadyPresent: 4, byKind: { schema: 2, route: 2 } });
    assert.equal(quotes.postgres.byId.size + orders.postgres.byId.size, 4);
    assert.equal(dead.byId.size, 4);
  });

  test('one route: the totals are what processBatch reports for the same event and stores', async () => {
    const a = twoRoutes();
    const b = twoRoutes();
    const event = () =>
      buildEvent(
        'msk',
        'b-1:9098',
        [0, 1, 2].map((i) => toEventRecord(at('quotes', 1, i, quote(i)))),
      );
    const routed = await processRoutedBatch(event(), a.stores, opts);
    const quotes = b.stores.routes[0];
    const plain = await processBatch(event(), quotes.type, { records: quotes.records, deadLetters: b.dead }, opts);
    const { routes, ...totals } = routed;
    assert.deepEqual(omitDuration(totals), omitDuration(plain));
    assert.deepEqual(Object.keys(totals.durationMs.stores), Object.keys(plain.durationMs.stores));
    assert.deepEqual(Object.keys(routes), ['quotes']);
    const { eventSource: _source, ...part } = plain;
    assert.deepEqual(omitDuration(routes.quotes), omitDuration(part));
  });

  test('an event is split per partition key, routes in the order of the event, unrouted partitions last', () => {
    const { stores } = twoRoutes();
    const groups = splitByRoute(mixed(), stores.routes);
    assert.deepEqual(
      groups.map((g) => [g.route?.name, Object.keys(g.event.records), g.topics]),
      [
        ['quotes', ['quotes-0'], ['quotes']],
        ['orders', ['orders-0', 'orders-1'], ['orders']],
        [undefined, ['prices-0'], ['prices']],
      ],
    );
  });
});

/** A summary without its times (they differ from run to run) nor the fields `undefined` marks. */
function omitDuration(s: object): object {
  return Object.fromEntries(Object.entries(s).filter(([k, v]) => k !== 'durationMs' && v !== undefined));
}

describe('partial batch responses across routes', () => {
  test('a route failing after another was written: its partitions and every later one from their first offset', async () => {
    const { stores } = twoRoutes();
    const [q, o] = stores.routes;
    const failing: RoutedStores = {
      ...stores,
      routes: [q, { ...o, records: [o.records[0], failingWrites(o.records[1], () => true)] }],
    };
    const err = await processRoutedBatch(mixed(), failing, { ...opts, partialResponse: true }).then(
      () => assert.fail('the batch must fail'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof IncompleteBatchError);
    assert.deepEqual(err.batchItemFailures, [
      { itemIdentifier: { 'topic-partition': 'orders-0', offset: 0 } },
      { itemIdentifier: { 'topic-partition': 'orders-1', offset: 0 } },
      { itemIdentifier: { 'topic-partition': 'prices-0', offset: 7 } },
    ]);
    // Without partial responses the store's error stops the batch: the mapping retries it whole.
    await assert.rejects(processRoutedBatch(mixed(), failing, opts), StoreWriteError);
  });

  test("a route failing after some of its chunks: its own failures, then the later routes'", async () => {
    const { stores } = twoRoutes();
    const [q, o] = stores.routes;
    const failing: RoutedStores = {
      ...stores,
      routes: [{ ...q, records: [q.records[0], failingWrites(q.records[1], (call) => call === 2)] }, o],
    };
    const err = await processRoutedBatch(mixed(), failing, { ...opts, partialResponse: true, writeChunk: 2 }).then(
      () => assert.fail('the batch must fail'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof IncompleteBatchError);
    assert.deepEqual(err.batchItemFailures, [
      { itemIdentifier: { 'topic-partition': 'quotes-0', offset: 2 } },
      { itemIdentifier: { 'topic-partition': 'orders-0', offset: 0 } },
      { itemIdentifier: { 'topic-partition': 'orders-1', offset: 0 } },
      { itemIdentifier: { 'topic-partition': 'prices-0', offset: 7 } },
    ]);
  });

  test('the first route failing at its first chunk throws the store error: nothing was written', async () => {
    const { stores } = twoRoutes();
    const [q, o] = stores.routes;
    const failing: RoutedStores = {
      ...stores,
      routes: [{ ...q, records: [failingWrites(q.records[0], () => true)] }, o],
    };
    await assert.rejects(processRoutedBatch(mixed(), failing, { ...opts, partialResponse: true }), StoreWriteError);
  });
});

describe('metrics and the handler', () => {
  test('one EMF document per route, with a Route dimension; the unrouted records in one under FunctionName alone', async () => {
    const { stores } = twoRoutes();
    const s = await processRoutedBatch(mixed(), stores, opts);
    const docs = emfDocuments(s, 'sink', 1);
    assert.deepEqual(
      docs.map((d) => [
        d.Route,
        (d._aws as { CloudWatchMetrics: { Dimensions: string[][] }[] }).CloudWatchMetrics[0].Dimensions,
      ]),
      [
        ['quotes', [['FunctionName'], ['FunctionName', 'Route']]],
        ['orders', [['FunctionName'], ['FunctionName', 'Route']]],
        [undefined, [['FunctionName']]],
      ],
    );
    assert.deepEqual(
      docs.map((d) => [d.RecordsReceived, d.PostgresWritten, d.DeadLetters_schema, d.DeadLetters_route]),
      [
        [3, 2, 1, undefined],
        [3, 2, 1, undefined],
        [2, 0, undefined, 2],
      ],
    );
    // The function's metrics are the sum of its documents'.
    assert.equal(
      docs.reduce((n, d) => n + (d.RecordsReceived as number), 0),
      s.received,
    );
  });

  test('the handler over every route of the sink file writes each topic to its route and emits a line per route', async () => {
    const { stores, orders } = twoRoutes();
    const emitted: string[] = [];
    const handle = createSinkHandler({
      config,
      log: createLogger('silent'),
      routed: stores,
      emit: (l) => emitted.push(l),
    });
    const response = await handle(mixed(), { functionName: 'sink' });
    assert.ok('routes' in response);
    assert.deepEqual(Object.keys(response.routes), ['quotes', 'orders']);
    assert.equal(orders.mongo.byId.size, 2);
    assert.deepEqual(
      emitted.map((l) => (JSON.parse(l) as { Route?: string }).Route),
      ['quotes', 'orders', undefined],
    );
  });

  test('the example sink file keeps its quotes schema identical to the default one', () => {
    const read = (...p: string[]) => readFileSync(path.join(PROJECT_ROOT, ...p), 'utf8');
    assert.equal(read('examples', 'orders', 'quotes.schema.json'), read('schemas', 'quotes.schema.json'));
  });
});

describe('the sink file SINK_FILE names', () => {
  test('the build compiles it into the bundle: both routes of the example, with their validators', async () => {
    const before = process.env.SINK_FILE;
    process.env.SINK_FILE = path.relative(PROJECT_ROOT, ORDERS_SINK_FILE);
    try {
      const out = await build({
        entryPoints: [path.join(PROJECT_ROOT, 'lib', 'routes', 'default.ts')],
        bundle: true,
        platform: 'node',
        format: 'cjs',
        write: false,
        logLevel: 'silent',
        plugins: [sinkFilePlugin()],
      });
      const module = {
        exports: {} as { defaultRoutes(): { plan: { name: string }; type: { accepts(v: unknown): boolean } }[] },
      };
      new Function('require', 'module', 'exports', out.outputFiles[0].text)(require, module, module.exports);
      const routes = module.exports.defaultRoutes();
      assert.deepEqual(
        routes.map((r) => r.plan.name),
        ['quotes', 'orders'],
      );
      assert.equal(routes[1].type.accepts(JSON.parse(order(3))), true);
      assert.equal(routes[1].type.accepts(JSON.parse(order(3, { placedAt: 'yesterday' }))), false);
    } finally {
      if (before === undefined) delete process.env.SINK_FILE;
      else process.env.SINK_FILE = before;
    }
  });
});
