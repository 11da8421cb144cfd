/** The emulator's status accounting and position tracking, apart from any consumption. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Positions } from '../../tools/emulator/positions';
import { doneLine, statusLine } from '../../tools/emulator/report';
import { lagOf, StatusAccumulator, type EventReport } from '../../tools/emulator/status';

const report = (over: Partial<EventReport> = {}): EventReport => ({
  received: 10,
  stores: { postgres: { written: 8, alreadyPresent: 1 }, mongo: { written: 7, alreadyPresent: 2 } },
  deadLettered: { written: 1, alreadyPresent: 0, byKind: { json: 1 } },
  tombstones: { received: 0, deleted: 0 },
  ...over,
});

function clock(start = 1_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

test('events add up: records, writes per store, already present, dead letters, tombstones', () => {
  const s = new StatusAccumulator();
  s.eventDone(report());
  s.eventDone(report({ received: 5, tombstones: { received: 2, deleted: 0 } }));
  const st = s.snapshot();
  assert.equal(st.events, 2);
  assert.equal(st.records, 15);
  assert.deepEqual(st.written, { postgres: 16, mongo: 14 });
  assert.equal(st.alreadyPresent, 2);
  assert.equal(st.deadLettered, 2);
  assert.equal(st.tombstones, 2);
});

test('retries and offsets lost to retention are counted', () => {
  const s = new StatusAccumulator();
  s.retried();
  s.retried();
  s.lost({ partition: 0, from: 50, to: 80 });
  s.lost({ partition: 2, from: 3, to: 4 });
  assert.equal(s.snapshot().retries, 2);
  assert.equal(s.snapshot().lostToRetention, 31);
});

test('the rate is records per second over the last status period', () => {
  const c = clock();
  const s = new StatusAccumulator(c.now);
  c.advance(2_000);
  s.eventDone(report({ received: 100 }));
  assert.equal(s.tick().rate, 50);
  c.advance(1_000);
  assert.equal(s.tick().rate, 0, 'nothing in the second period');
  assert.equal(s.snapshot().elapsedMs, 3_000);
});

test('a snapshot is a copy', () => {
  const s = new StatusAccumulator();
  s.setLag({ 'quotes-0': 3 });
  const st = s.snapshot();
  st.lag['quotes-0'] = 99;
  st.written.postgres = 99;
  assert.deepEqual(s.snapshot().lag, { 'quotes-0': 3 });
  assert.equal(s.snapshot().written.postgres, 0);
});

test('lag counts from the committed offset, or from the low watermark when there is none or it is below', () => {
  const marks = [
    { partition: 0, low: 0, high: 10 },
    { partition: 1, low: 5, high: 10 },
    { partition: 2, low: 8, high: 10 },
  ];
  const committed = new Map([
    [0, 4],
    [2, 3],
  ]);
  assert.deepEqual(lagOf('quotes', marks, committed), { 'quotes-0': 6, 'quotes-1': 5, 'quotes-2': 2 });
});

test('a position below the low watermark is a retention gap, reported once', () => {
  const p = new Positions(new Map([[0, 50]]));
  const marks = [{ partition: 0, low: 80, high: 100 }];
  assert.deepEqual(p.gaps(marks), [{ partition: 0, from: 50, to: 80 }]);
  assert.deepEqual(p.gaps(marks), []);
  assert.equal(p.of(0), 80);
});

test('unknown positions (no commit, or kafkajs reset marks) never make a gap', () => {
  const p = new Positions(
    new Map([
      [0, -1],
      [1, -2],
    ]),
  );
  assert.deepEqual(
    p.gaps([
      { partition: 0, low: 9, high: 9 },
      { partition: 1, low: 9, high: 9 },
      { partition: 2, low: 9, high: 9 },
    ]),
    [],
  );
});

test("a partition with a batch under way is left to that batch's own check", () => {
  const p = new Positions(new Map([[0, 5]]));
  const marks = [{ partition: 0, low: 9, high: 12 }];
  p.begin(0);
  assert.deepEqual(p.gaps(marks), []);
  assert.deepEqual(p.gaps(marks, 0), [{ partition: 0, from: 5, to: 9 }]);
  p.end(0);
});

test('positions advance with commits', () => {
  const p = new Positions();
  assert.equal(p.of(3), undefined);
  p.advance(3, 42);
  assert.equal(p.of(3), 42);
  assert.deepEqual(p.gaps([{ partition: 3, low: 40, high: 50 }]), []);
});

test('done: totals add up (already-present dead letters included) with the run average rate', () => {
  let now = 0;
  const acc = new StatusAccumulator(() => now);
  acc.eventDone({
    received: 10,
    stores: { postgres: { written: 5, alreadyPresent: 2 }, mongo: { written: 5, alreadyPresent: 2 } },
    deadLettered: { written: 1, alreadyPresent: 2, byKind: { json: 3 } },
    tombstones: { received: 0, deleted: 0 },
  });
  acc.filtered(4);
  now = 2_000;
  const s = acc.snapshot();
  assert.equal(s.deadLettersAlreadyPresent, 2);
  assert.equal(s.metrics.RecordsReceived, 10);
  assert.equal(s.metrics.DeadLettersWritten, 1);
  const line = doneLine(s);
  assert.match(
    line,
    /^done: 10 records, 5 written, 2 already there, 3 dead letters \(2 already there\), 4 filtered out in 2\.0s \(average 5 rec\/s\)$/,
  );
  assert.match(statusLine(acc.tick()), /^5 rec\/s \| 10 records/);
});

test('one store only (SINK_STORES): the totals count the store that was written', () => {
  const none = { written: 0, alreadyPresent: 0 };
  const report = (store: 'postgres' | 'mongo', written: number, alreadyPresent: number): EventReport => ({
    received: written + alreadyPresent,
    stores: {
      postgres: store === 'postgres' ? { written, alreadyPresent } : none,
      mongo: store === 'mongo' ? { written, alreadyPresent } : none,
    },
    deadLettered: { written: 0, alreadyPresent: 0, byKind: {} },
    tombstones: { received: 0, deleted: 0 },
  });
  for (const store of ['postgres', 'mongo'] as const) {
    const acc = new StatusAccumulator(() => 0);
    acc.eventDone(report(store, 3, 0));
    acc.eventDone(report(store, 0, 2));
    assert.match(doneLine(acc.snapshot()), /^done: 5 records, 3 written, 2 already there,/, store);
  }
});
