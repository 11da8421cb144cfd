/** EventCollector with a fake dispatch and mocked timers: when an event closes, and what it holds. */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { EventCollector, recordBytes, type Dispatch } from '../../tools/emulator/collector';
import { toEventRecord } from '../../tools/emulator/event';
import type { KafkaEventRecord } from '../../lib/event/types';

const rec = (partition: number, offset: number, value = 'v'): KafkaEventRecord =>
  toEventRecord({ topic: 'quotes', partition, offset, timestamp: 1, key: null, value });

/** A dispatch that records each event and settles it when told to. */
function fakeDispatch() {
  const events: KafkaEventRecord[][] = [];
  const settle: { resolve: () => void; reject: (e: Error) => void }[] = [];
  const dispatch: Dispatch = (records) => {
    events.push(records);
    return new Promise((resolve, reject) => settle.push({ resolve, reject }));
  };
  return { events, settle, dispatch };
}

const offsets = (records: KafkaEventRecord[]) => records.map((r) => `${r.partition}/${r.offset}`);

function withTimers(t: TestContext) {
  t.mock.timers.enable({ apis: ['setTimeout'] });
}

test('an event closes as soon as it holds batch-size records', (t) => {
  withTimers(t);
  const d = fakeDispatch();
  const c = new EventCollector({ batchSize: 3, windowMs: 10_000 }, d.dispatch);
  void c.add([rec(0, 0), rec(0, 1), rec(0, 2), rec(0, 3)]);
  assert.deepEqual(d.events.map(offsets), [['0/0', '0/1', '0/2']]);
  assert.equal(c.waiting, 1);
  assert.equal(c.inFlight, 1);
});

test('an event closes when its window has passed since it opened', (t) => {
  withTimers(t);
  const d = fakeDispatch();
  const c = new EventCollector({ batchSize: 100, windowMs: 500 }, d.dispatch);
  void c.add([rec(0, 0), rec(0, 1)]);
  t.mock.timers.tick(499);
  assert.equal(d.events.length, 0);
  t.mock.timers.tick(1);
  assert.deepEqual(d.events.map(offsets), [['0/0', '0/1']]);
});

test('an event closes before the next record would pass the byte limit', (t) => {
  withTimers(t);
  const d = fakeDispatch();
  const big = 'x'.repeat(1_000);
  const size = recordBytes(rec(0, 0, big));
  const c = new EventCollector({ batchSize: 100, windowMs: 500, maxEventBytes: size * 2 }, d.dispatch);
  void c.add([rec(0, 0, big), rec(0, 1, big), rec(0, 2, big)]);
  assert.deepEqual(d.events.map(offsets), [['0/0', '0/1']]);
  assert.equal(c.waiting, 1);
});

test('a record over the byte limit alone still makes an event of its own', (t) => {
  withTimers(t);
  const d = fakeDispatch();
  const c = new EventCollector({ batchSize: 100, windowMs: 500, maxEventBytes: 10 }, d.dispatch);
  void c.add([rec(0, 0), rec(0, 1)]);
  assert.deepEqual(d.events.map(offsets), [['0/0']]);
});

test('records of several partitions share one event', (t) => {
  withTimers(t);
  const d = fakeDispatch();
  const c = new EventCollector({ batchSize: 100, windowMs: 500 }, d.dispatch);
  void c.add([rec(0, 0), rec(0, 1)]);
  void c.add([rec(1, 7)]);
  void c.add([rec(2, 3)]);
  t.mock.timers.tick(500);
  assert.deepEqual(d.events.map(offsets), [['0/0', '0/1', '1/7', '2/3']]);
});

test('add() resolves only once every event holding its records succeeded', async (t) => {
  withTimers(t);
  const d = fakeDispatch();
  const c = new EventCollector({ batchSize: 2, windowMs: 500 }, d.dispatch);
  let done = false;
  const added = c.add([rec(0, 0), rec(0, 1), rec(0, 2)]).then(() => (done = true));
  t.mock.timers.tick(500);
  assert.equal(d.events.length, 2);
  d.settle[0].resolve();
  await Promise.resolve();
  assert.equal(done, false, 'the second event is still in flight');
  d.settle[1].resolve();
  await added;
  assert.equal(done, true);
});

test("a dispatch's rejection reaches every add() with records in that event", async (t) => {
  withTimers(t);
  const d = fakeDispatch();
  const c = new EventCollector({ batchSize: 100, windowMs: 500 }, d.dispatch);
  const a = c.add([rec(0, 0)]);
  const b = c.add([rec(1, 0)]);
  t.mock.timers.tick(500);
  const boom = new Error('delivery gave up');
  d.settle[0].reject(boom);
  await assert.rejects(a, (e) => e === boom);
  await assert.rejects(b, (e) => e === boom);
});

test('close() drops the open event without dispatching it, and later adds reject at once', async (t) => {
  withTimers(t);
  const d = fakeDispatch();
  const c = new EventCollector({ batchSize: 100, windowMs: 500 }, d.dispatch);
  const pending = c.add([rec(0, 0)]);
  const stop = new Error('stopping');
  c.close(stop);
  t.mock.timers.tick(500);
  assert.equal(d.events.length, 0);
  await assert.rejects(pending, (e) => e === stop);
  await assert.rejects(c.add([rec(0, 1)]), (e) => e === stop);
});
