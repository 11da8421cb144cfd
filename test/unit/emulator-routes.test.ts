/**
 * The emulator's routes (pure, no Kafka): each route's mapping settings by the naming rules, the
 * group that runs and stops them together, and their status merged and per route.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { parseLocalOptions, templateFile } from '../../cli/local';
import { loadConfig } from '../../lib/config';
import type { Emulator, EmulatorStatus } from '../../tools/emulator/emulator';
import { EmulatorGroup, sharedInvoker } from '../../tools/emulator/group';
import type { Invoker } from '../../tools/emulator/invoke';
import { routesLine, statusLine } from '../../tools/emulator/report';
import { resolveRouteSettings } from '../../tools/emulator/settings';
import { mergeStatuses, StatusAccumulator } from '../../tools/emulator/status';

const config = () =>
  loadConfig({
    KAFKA_BROKERS: 'b:9092',
    KAFKA_TOPIC: 'prices',
    KAFKA_GROUP_ID: 'env-group',
    POSTGRES_URL: 'postgres://u:p@h/d',
    MONGO_URL: 'mongodb://h/',
  } as NodeJS.ProcessEnv);
const routes = [
  { name: 'quotes', topic: 'quotes' },
  { name: 'orders', topic: 'orders' },
];

test('one run per route: quotes on KAFKA_TOPIC with the flags; others on their topic, group <group>-<route>, <topic>-failed', async () => {
  const o = parseLocalOptions(['--no-template', '--batch-size', '7', '--destination', 'kafka://dlq']);
  const runs = await resolveRouteSettings(o, config(), templateFile(o), routes);
  const view = runs.map(({ mapping, settings: s }) => [
    mapping.route,
    mapping.primary,
    s.topic,
    s.groupId,
    s.batchSize,
    s.policy.destination?.uri,
  ]);
  assert.deepEqual(view, [
    ['quotes', true, 'prices', 'env-group', 7, 'kafka://dlq'],
    ['orders', false, 'orders', 'env-group-orders', 7, 'kafka://orders-failed'],
  ]);
  assert.deepEqual(runs[1].settings.describe, [], "the banner's mapping line is the primary route's");
  for (const r of runs) await r.settings.policy.destination?.close();
});

test('the default sink file is one run, the quotes route, with the settings of one route before', async () => {
  const o = parseLocalOptions(['--no-template', '--group-id', 'mine']);
  const runs = await resolveRouteSettings(o, config(), templateFile(o), [{ name: 'quotes', topic: 'quotes' }]);
  assert.equal(runs.length, 1);
  assert.equal(runs[0].settings.topic, 'prices');
  assert.equal(runs[0].settings.groupId, 'mine');
  assert.equal(runs[0].settings.policy.destination, undefined);
});

test("with a template, each route takes its topic's mapping; the group still follows the rule", async () => {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'tpl-')), 'template.json');
  const mapping = (topic: string, batch: number, group: string) => ({
    Type: 'AWS::Lambda::EventSourceMapping',
    Properties: {
      Topics: [topic],
      SelfManagedEventSource: { Endpoints: { KafkaBootstrapServers: ['b:9092'] } },
      StartingPosition: 'TRIM_HORIZON',
      BatchSize: batch,
      SelfManagedKafkaEventSourceConfig: { ConsumerGroupId: group },
    },
  });
  const Resources = { Q: mapping('prices', 5, 'deployed'), O: mapping('orders', 9, 'deployed-orders') };
  writeFileSync(file, JSON.stringify({ Resources }));
  const o = parseLocalOptions(['--from-template', file]);
  const runs = await resolveRouteSettings(o, config(), templateFile(o), routes);
  assert.deepEqual(
    runs.map((r) => [r.settings.topic, r.settings.batchSize, r.settings.groupId]),
    [
      ['prices', 5, 'deployed'],
      ['orders', 9, 'deployed-orders'],
    ],
  );
});

/** A stand-in for an emulator: `run()` settles as told, `stop` is recorded. */
function fakeEmulator(outcome: () => Promise<EmulatorStatus>, stops: string[], name: string): Emulator {
  return {
    run: outcome,
    stop: (reason: string) => void stops.push(`${name}: ${reason}`),
    status: () => new StatusAccumulator().snapshot(),
  } as unknown as Emulator;
}

test('the group: one failing mapping stops the others, the error comes out once all stopped, the invoker closes once', async () => {
  const stops: string[] = [];
  let release!: () => void;
  const other = new Promise<void>((resolve) => (release = resolve));
  const closed: number[] = [];
  const invoker = { close: async () => void closed.push(1) };
  const group = new EmulatorGroup(
    [
      { route: 'quotes', emulator: fakeEmulator(() => Promise.reject(new Error('kafka gone')), stops, 'quotes') },
      {
        route: 'orders',
        emulator: fakeEmulator(() => other.then(() => new StatusAccumulator().snapshot()), stops, 'orders'),
      },
    ],
    invoker,
  );
  const running = group.run();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(stops, ['quotes: route quotes failed: kafka gone', 'orders: route quotes failed: kafka gone']);
  assert.deepEqual(closed, [], 'not while a mapping still runs');
  release();
  await assert.rejects(running, /kafka gone/);
  assert.deepEqual(closed, [1]);
});

test("each mapping's invoker is the shared one without close", async () => {
  const calls: unknown[] = [];
  const inner: Invoker = async (event) => {
    calls.push(event);
    return { batchItemFailures: [] };
  };
  inner.close = async () => undefined;
  const one = sharedInvoker(inner);
  await one({ records: {} } as never);
  assert.equal(calls.length, 1);
  assert.equal(one.close, undefined);
});

test('statuses merge: counts, lag and rates add up; the longest run; each route in one line', () => {
  const status = (records: number, lag: Record<string, number>, elapsedMs: number): EmulatorStatus => ({
    ...new StatusAccumulator().snapshot(),
    records,
    rate: records,
    written: { postgres: records, mongo: records },
    lag,
    elapsedMs,
  });
  const quotes = status(150, { 'quotes-0': 0, 'quotes-1': 2 }, 1_000);
  const orders = status(40, { 'orders-0': 3 }, 3_000);
  const merged = mergeStatuses([quotes, orders]);
  assert.equal(merged.records, 190);
  assert.equal(merged.rate, 190);
  assert.deepEqual(merged.written, { postgres: 190, mongo: 190 });
  assert.deepEqual(merged.lag, { 'quotes-0': 0, 'quotes-1': 2, 'orders-0': 3 });
  assert.equal(merged.elapsedMs, 3_000);
  assert.equal(quotes.records, 150, 'the inputs are left alone');
  assert.match(statusLine(merged), /^190 rec\/s \| 190 records, 190 written/);
  assert.equal(routesLine({ quotes, orders }), 'quotes 150 records (lag 2), orders 40 records (lag 3)');
  assert.equal(routesLine({ quotes }), '', 'one route: the line as it always was');
  assert.equal(mergeStatuses([quotes]), quotes);
});
