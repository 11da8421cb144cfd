/**
 * The Emulator driven through fakes of the kafkajs consumer and admin (in the manner of kafkajs's
 * runner.spec.js): what it invokes, what it commits, how it stops. No Kafka, no stores.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Admin, Consumer, EachBatchPayload, KafkaMessage } from 'kafkajs';
import { Emulator, EventTooLargeError, type EmulatorOptions } from '../../tools/emulator/emulator';
import type { Invoker } from '../../tools/emulator/invoke';
import { InvalidEventError } from '../../lib/event/errors';
import type { KafkaEvent } from '../../lib/event/types';
import type { BatchSummary } from '../../lib/sink/batch';
import { METRIC_NAMES } from '../../lib/sink/metrics';
import type { FailedBatch, FailureDestination } from '../../tools/emulator/destination';
import { parseFilters } from '../../tools/emulator/filter';

const TOPIC = 'quotes';

/** The consumer's side the emulator uses, recording subscriptions and commits. */
class FakeConsumer {
  readonly events = { CRASH: 'consumer.crash' };
  readonly commits: { partition: number; offset: string }[] = [];
  eachBatch?: (p: EachBatchPayload) => Promise<void>;
  subscribed?: { topic: string; fromBeginning: boolean };
  disconnected = false;
  connect = async () => undefined;
  on = () => () => undefined;
  subscribe = async (s: { topic: string; fromBeginning: boolean }) => void (this.subscribed = s);
  run = async (o: { eachBatch: (p: EachBatchPayload) => Promise<void> }) => void (this.eachBatch = o.eachBatch);
  commitOffsets = async (list: { partition: number; offset: string }[]) => void this.commits.push(...list);
  readonly seeks: { partition: number; offset: string }[] = [];
  seek = (s: { partition: number; offset: string }) =>
    void this.seeks.push({ partition: s.partition, offset: s.offset });
  disconnect = async () => void (this.disconnected = true);
}

/** Watermarks and committed offsets as the test sets them. */
class FakeAdmin {
  marks = [{ partition: 0, low: 0, high: 0 }];
  committed = new Map<number, number>();
  /** Offsets by timestamp, as fetchTopicOffsetsByTimestamp answers them. */
  byTimestamp = new Map<number, number>();
  setOffsetsCalls: { groupId: string; partitions: { partition: number; offset: string }[] }[] = [];
  setOffsets = async (o: { groupId: string; partitions: { partition: number; offset: string }[] }) => {
    this.setOffsetsCalls.push(o);
    for (const p of o.partitions) this.committed.set(p.partition, Number(p.offset));
  };
  fetchTopicOffsetsByTimestamp = async () =>
    this.marks.map((m) => ({ partition: m.partition, offset: String(this.byTimestamp.get(m.partition) ?? -1) }));
  connect = async () => undefined;
  disconnect = async () => undefined;
  fetchTopicOffsets = async () =>
    this.marks.map((m) => ({
      partition: m.partition,
      offset: String(m.high),
      high: String(m.high),
      low: String(m.low),
    }));
  fetchOffsets = async () => [
    { topic: TOPIC, partitions: [...this.committed].map(([partition, o]) => ({ partition, offset: String(o) })) },
  ];
}

const summary = (event: KafkaEvent): BatchSummary => {
  const n = Object.values(event.records).flat().length;
  return {
    eventSource: event.eventSource,
    received: n,
    duplicateInEvent: 0,
    valid: n,
    stores: { postgres: { written: n, alreadyPresent: 0 }, mongo: { written: n, alreadyPresent: 0 } },
    deadLettered: { written: 0, alreadyPresent: 0, byKind: {} },
    tombstones: { received: 0, deleted: 0 },
    superseded: 0,
    partitions: {},
    durationMs: { decode: 0, stores: { postgres: 0, mongo: 0 }, total: 0 },
  };
};

/** An invoker recording its events; `fail` decides per call whether (and how) it fails. */
function fakeInvoker(fail: (call: number) => Error | undefined = () => undefined) {
  const events: KafkaEvent[] = [];
  let closed = false;
  const invoke: Invoker = async (event) => {
    events.push(event);
    const e = fail(events.length);
    if (e) throw e;
    return summary(event);
  };
  invoke.close = async () => void (closed = true);
  return { invoke, events, closed: () => closed };
}

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

function setup(invoke: Invoker, over: Partial<EmulatorOptions> = {}) {
  const consumer = new FakeConsumer();
  const admin = new FakeAdmin();
  // As with Kafka: what the consumer commits, the admin reads back.
  const commit = consumer.commitOffsets;
  consumer.commitOffsets = async (list) => {
    await commit(list);
    for (const c of list) admin.committed.set(c.partition, Number(c.offset));
  };
  const emulator = new Emulator({
    kafka: { consumer: () => consumer as unknown as Consumer, admin: () => admin as unknown as Admin },
    invoke,
    log: silent,
    topic: TOPIC,
    groupId: 'g',
    bootstrapServers: 'b:9092',
    startingPosition: 'TRIM_HORIZON',
    batchSize: 2,
    windowMs: 5,
    source: 'self-managed',
    retry: { attempts: 'forever', baseMs: 1, capMs: 2 },
    stopWhen: 'signal',
    ...over,
  });
  return { consumer, admin, emulator };
}

const message = (offset: number, extra: Partial<KafkaMessage> & { batchContext?: object } = {}): KafkaMessage =>
  ({
    offset: String(offset),
    timestamp: '1700000000000',
    key: null,
    value: Buffer.from(`{"quote":"q${offset}","character":"c"}`),
    headers: {},
    attributes: 0,
    ...extra,
  }) as KafkaMessage;

/** Feeds one fetched batch of `partition` to the emulator, as kafkajs's runner would. */
function feed(consumer: FakeConsumer, partition: number, messages: KafkaMessage[]) {
  const resolved: string[] = [];
  const payload = {
    batch: {
      topic: TOPIC,
      partition,
      highWatermark: '0',
      messages,
      isEmpty: () => messages.length === 0,
      firstOffset: () => messages[0]?.offset ?? null,
      lastOffset: () => messages[messages.length - 1].offset,
      offsetLag: () => '0',
      offsetLagLow: () => '0',
    },
    resolveOffset: (o: string) => void resolved.push(o),
    heartbeat: async () => undefined,
    isRunning: () => true,
  } as unknown as EachBatchPayload;
  return { handled: (consumer.eachBatch as (p: EachBatchPayload) => Promise<void>)(payload), resolved };
}

test('a fetched batch goes out in batch-size slices, then its next offset is committed', async () => {
  const f = fakeInvoker();
  const { consumer, emulator } = setup(f.invoke);
  await emulator.start();
  const { handled, resolved } = feed(consumer, 0, [message(0), message(1), message(2)]);
  await handled;
  assert.deepEqual(
    f.events.map((e) => e.records['quotes-0'].map((r) => r.offset)),
    [[0, 1], [2]],
  );
  assert.deepEqual(resolved, ['2']);
  assert.deepEqual(consumer.commits, [{ topic: TOPIC, partition: 0, offset: '3' }]);
  assert.equal(emulator.status().events, 2);
  assert.equal(emulator.status().records, 3);
  emulator.stop('test');
  await emulator.done;
});

// StartingPosition places a new group's offsets before it joins; a partition with none afterwards
// was added to the topic later, and is read from its beginning whatever the starting position.
for (const startingPosition of ['TRIM_HORIZON', 'LATEST', 'AT_TIMESTAMP'] as const) {
  test(`${startingPosition}: kafkajs resets a partition without a committed offset to its beginning`, async () => {
    const { consumer, admin, emulator } = setup(fakeInvoker().invoke, { startingPosition, startingTimestampMs: 0 });
    admin.committed.set(0, 0);
    await emulator.start();
    assert.equal(consumer.subscribed?.fromBeginning, true);
    emulator.stop('test');
    await emulator.done;
  });
}

test('a retrying event is abandoned on stop: nothing committed, the invoker closed, done resolves', async () => {
  const f = fakeInvoker(() => new Error('ECONNREFUSED'));
  const { consumer, emulator } = setup(f.invoke, { retry: { attempts: 'forever', baseMs: 60_000, capMs: 60_000 } });
  await emulator.start();
  const { handled } = feed(consumer, 0, [message(0)]);
  while (f.events.length === 0) await new Promise((r) => setTimeout(r, 1));
  const started = Date.now();
  emulator.stop('SIGTERM');
  await handled;
  const status = await emulator.done;
  assert.ok(Date.now() - started < 1_000, 'the backoff wait ended at once');
  assert.deepEqual(consumer.commits, []);
  assert.equal(status.events, 0);
  assert.ok(consumer.disconnected);
  assert.ok(f.closed());
});

test('a non-retriable failure stops the emulator: done rejects with it and nothing is committed', async () => {
  const bad = new InvalidEventError('no records');
  const f = fakeInvoker(() => bad);
  const { consumer, emulator } = setup(f.invoke);
  await emulator.start();
  await feed(consumer, 0, [message(0)]).handled;
  await assert.rejects(emulator.done, (e) => e === bad);
  assert.equal(f.events.length, 1);
  assert.deepEqual(consumer.commits, []);
});

test('a record too large for the invoke payload limit is never invoked', async () => {
  const f = fakeInvoker();
  const { consumer, emulator } = setup(f.invoke);
  await emulator.start();
  await feed(consumer, 0, [message(0, { value: Buffer.alloc(5 * 1024 * 1024, 0x61) })]).handled;
  await assert.rejects(emulator.done, EventTooLargeError);
  assert.equal(f.events.length, 0);
  assert.deepEqual(consumer.commits, []);
});

test('a batch resuming past offsets deleted by retention counts the gap', async () => {
  const f = fakeInvoker();
  const { consumer, admin, emulator } = setup(f.invoke);
  admin.committed.set(0, 50);
  admin.marks = [{ partition: 0, low: 80, high: 82 }];
  await emulator.start();
  await feed(consumer, 0, [message(80), message(81)]).handled;
  assert.equal(emulator.status().lostToRetention, 30);
  assert.deepEqual(consumer.commits, [{ topic: TOPIC, partition: 0, offset: '82' }]);
  emulator.stop('test');
  await emulator.done;
});

test("the timestamp type comes from the record batch's attributes", async () => {
  const f = fakeInvoker();
  const { consumer, emulator } = setup(f.invoke, { batchSize: 1 });
  await emulator.start();
  await feed(consumer, 0, [message(0, { batchContext: { timestampType: 1 } })]).handled;
  await feed(consumer, 1, [message(0, { batchContext: { timestampType: 0 } })]).handled;
  assert.equal(f.events[0].records['quotes-0'][0].timestampType, 'LOG_APPEND_TIME');
  assert.equal(f.events[1].records['quotes-1'][0].timestampType, 'CREATE_TIME');
  emulator.stop('test');
  await emulator.done;
});

test('stopWhen idle: stops by itself once every partition is caught up', async () => {
  const { admin, emulator } = setup(fakeInvoker().invoke, { stopWhen: { idleMs: 0 } });
  admin.committed.set(0, 5);
  admin.marks = [{ partition: 0, low: 0, high: 5 }];
  const status = await emulator.run();
  assert.deepEqual(status.lag, { 'quotes-0': 0 });
});

test('a partial batch response naming records is retried as a whole event', async () => {
  let calls = 0;
  const events: KafkaEvent[] = [];
  const invoke: Invoker = async (event) => {
    events.push(event);
    if (++calls === 1) return { batchItemFailures: [{ itemIdentifier: { 'topic-partition': 'quotes-0', offset: 1 } }] };
    return summary(event);
  };
  const { consumer, emulator } = setup(invoke);
  await emulator.start();
  await feed(consumer, 0, [message(0), message(1)]).handled;
  assert.equal(events.length, 2);
  assert.deepEqual(events[1], events[0], 'the same event again');
  assert.equal(emulator.status().retries, 1);
  assert.deepEqual(consumer.commits, [{ topic: TOPIC, partition: 0, offset: '2' }]);
  emulator.stop('test');
  await emulator.done;
});

test('an empty partial batch response is a success', async () => {
  const invoke: Invoker = async () => ({ batchItemFailures: [] });
  const { consumer, emulator } = setup(invoke);
  await emulator.start();
  await feed(consumer, 0, [message(0)]).handled;
  assert.deepEqual(consumer.commits, [{ topic: TOPIC, partition: 0, offset: '1' }]);
  assert.equal(emulator.status().records, 1);
  emulator.stop('test');
  await emulator.done;
});

test('stop before start settles done at once', async () => {
  const { emulator } = setup(fakeInvoker().invoke);
  emulator.stop('SIGINT');
  assert.equal((await emulator.done).events, 0);
});

// The deployed mapping's settings, applied as AWS applies them -----------------------------------

const itemFailure = (partition: number, offset: number) => ({
  itemIdentifier: { 'topic-partition': `quotes-${partition}`, offset },
});
const offsetsOf = (e: KafkaEvent) =>
  Object.values(e.records)
    .flat()
    .map((r) => r.offset);

/** A destination that keeps what it is sent. */
function memoryDestination() {
  const sent: FailedBatch[] = [];
  const destination: FailureDestination = {
    uri: 'memory',
    send: async (b) => void sent.push(b),
    close: async () => undefined,
  };
  return { sent, destination };
}

test('LATEST on a new group: its offsets are committed at the high watermarks before it joins, so lag starts at 0', async () => {
  const { admin, emulator } = setup(fakeInvoker().invoke, { startingPosition: 'LATEST', stopWhen: { idleMs: 0 } });
  admin.marks = [{ partition: 0, low: 0, high: 500 }];
  const status = await emulator.run();
  assert.deepEqual(admin.setOffsetsCalls[0].partitions, [{ partition: 0, offset: '500' }]);
  assert.deepEqual(status.lag, { 'quotes-0': 0 });
});

test('AT_TIMESTAMP on a new group starts at the first offset at or after the time (the end where there is none)', async () => {
  const { admin, emulator } = setup(fakeInvoker().invoke, {
    startingPosition: 'AT_TIMESTAMP',
    startingTimestampMs: 1_000,
  });
  admin.marks = [
    { partition: 0, low: 0, high: 10 },
    { partition: 1, low: 0, high: 7 },
  ];
  admin.byTimestamp.set(0, 4);
  await emulator.start();
  assert.deepEqual(admin.setOffsetsCalls[0].partitions, [
    { partition: 0, offset: '4' },
    { partition: 1, offset: '7' },
  ]);
  emulator.stop('test');
  await emulator.done;
});

test('a group with committed offsets is never moved by the starting position', async () => {
  const { admin, emulator } = setup(fakeInvoker().invoke, { startingPosition: 'LATEST' });
  admin.committed.set(0, 3);
  admin.marks = [{ partition: 0, low: 0, high: 10 }];
  await emulator.start();
  assert.equal(admin.setOffsetsCalls.length, 0);
  emulator.stop('test');
  await emulator.done;
});

test('filters: records that match no filter are not invoked, and are committed', async () => {
  const f = fakeInvoker();
  const filters = parseFilters(['{"value":{"quote":["q1"]}}']);
  const { consumer, emulator } = setup(f.invoke, { batchSize: 10, policy: { filters } });
  await emulator.start();
  await feed(consumer, 0, [message(0), message(1), message(2)]).handled;
  assert.deepEqual(f.events.map(offsetsOf), [[1]]);
  assert.deepEqual(consumer.commits, [{ topic: TOPIC, partition: 0, offset: '3' }]);
  assert.equal(emulator.status().filtered, 2);
  emulator.stop('test');
  await emulator.done;
});

test('a batch matching no filter at all is committed without an invocation', async () => {
  const f = fakeInvoker();
  const { consumer, emulator } = setup(f.invoke, {
    policy: { filters: parseFilters(['{"value":{"quote":["nope"]}}']) },
  });
  await emulator.start();
  await feed(consumer, 0, [message(0), message(1)]).handled;
  assert.equal(f.events.length, 0);
  assert.deepEqual(consumer.commits, [{ topic: TOPIC, partition: 0, offset: '2' }]);
  emulator.stop('test');
  await emulator.done;
});

test('retry attempts, then the destination: the batch goes there and its partition moves on', async () => {
  const f = fakeInvoker(() => new Error('ECONNREFUSED'));
  const d = memoryDestination();
  const { consumer, emulator } = setup(f.invoke, {
    retry: { attempts: 3, baseMs: 1, capMs: 1 },
    policy: { destination: d.destination },
  });
  await emulator.start();
  await feed(consumer, 0, [message(0), message(1)]).handled;
  assert.equal(f.events.length, 3, 'three invocations (two retries)');
  assert.equal(d.sent.length, 1);
  assert.equal(d.sent[0].condition, 'RetryAttemptsExhausted');
  assert.equal(d.sent[0].invokeCount, 3);
  assert.deepEqual(
    d.sent[0].records.map((r) => r.offset),
    [0, 1],
  );
  assert.deepEqual(consumer.commits, [{ topic: TOPIC, partition: 0, offset: '2' }]);
  assert.equal(emulator.status().sentToDestination, 2);
  emulator.stop('test');
  await emulator.done;
});

test('retry attempts with no destination: the emulator gives up, committing nothing', async () => {
  const f = fakeInvoker(() => new Error('ECONNREFUSED'));
  const { consumer, emulator } = setup(f.invoke, { retry: { attempts: 2, baseMs: 1, capMs: 1 } });
  await emulator.start();
  await feed(consumer, 0, [message(0)]).handled;
  await assert.rejects(emulator.done, /gave up after 2 attempts/);
  assert.deepEqual(consumer.commits, []);
});

test('maximum record age: older records go to the destination without an invocation', async () => {
  const f = fakeInvoker();
  const d = memoryDestination();
  const { consumer, emulator } = setup(f.invoke, {
    batchSize: 10,
    policy: { destination: d.destination, maxRecordAgeMs: 60_000 },
  });
  await emulator.start();
  const now = String(Date.now());
  await feed(consumer, 0, [message(0), message(1, { timestamp: now })]).handled;
  assert.deepEqual(f.events.map(offsetsOf), [[1]]);
  assert.equal(d.sent[0].condition, 'RecordAgeExceeded');
  assert.equal(d.sent[0].invokeCount, 0);
  assert.deepEqual(
    d.sent[0].records.map((r) => r.offset),
    [0],
  );
  assert.deepEqual(consumer.commits, [{ topic: TOPIC, partition: 0, offset: '2' }]);
  emulator.stop('test');
  await emulator.done;
});

test('bisect on error: a failing batch is split in two and each half retried; the bad record alone reaches the destination', async () => {
  const d = memoryDestination();
  const events: KafkaEvent[] = [];
  const invoke: Invoker = async (event) => {
    events.push(event);
    if (offsetsOf(event).includes(2)) throw new Error('record 2 breaks the batch');
    return summary(event);
  };
  const { consumer, emulator } = setup(invoke, {
    batchSize: 4,
    retry: { attempts: 3, baseMs: 1, capMs: 1 },
    policy: { destination: d.destination, bisect: true },
  });
  await emulator.start();
  await feed(consumer, 0, [message(0), message(1), message(2), message(3)]).handled;
  assert.deepEqual(events.map(offsetsOf), [[0, 1, 2, 3], [0, 1], [2, 3], [2], [3]]);
  assert.deepEqual(
    d.sent.map((b) => b.records.map((r) => r.offset)),
    [[2]],
  );
  assert.deepEqual(consumer.commits, [{ topic: TOPIC, partition: 0, offset: '4' }]);
  emulator.stop('test');
  await emulator.done;
});

test('partial batch response: the lowest failed offset per partition is retried; records before it are done', async () => {
  const events: KafkaEvent[] = [];
  const invoke: Invoker = async (event) => {
    events.push(event);
    if (events.length === 1) return { batchItemFailures: [itemFailure(0, 3), itemFailure(0, 2)] };
    return summary(event);
  };
  const { consumer, emulator } = setup(invoke, { batchSize: 10, policy: { reportBatchItemFailures: true } });
  await emulator.start();
  await feed(consumer, 0, [message(0), message(1), message(2), message(3)]).handled;
  assert.deepEqual(events.map(offsetsOf), [
    [0, 1, 2, 3],
    [2, 3],
  ]);
  assert.equal(emulator.status().records, 4);
  assert.deepEqual(consumer.commits, [{ topic: TOPIC, partition: 0, offset: '4' }]);
  emulator.stop('test');
  await emulator.done;
});

for (const [what, failure] of [
  ['an unknown partition', itemFailure(7, 1)],
  ['an offset not in the batch', itemFailure(0, 99)],
  ['a malformed identifier', { itemIdentifier: { offset: 'x' } }],
] as const) {
  test(`partial batch response with ${what}: the whole batch is retried`, async () => {
    const events: KafkaEvent[] = [];
    const invoke: Invoker = async (event) => {
      events.push(event);
      if (events.length === 1) return { batchItemFailures: [failure as never] };
      return summary(event);
    };
    const { consumer, emulator } = setup(invoke, { batchSize: 10, policy: { reportBatchItemFailures: true } });
    await emulator.start();
    await feed(consumer, 0, [message(0), message(1), message(2)]).handled;
    assert.deepEqual(events.map(offsetsOf), [
      [0, 1, 2],
      [0, 1, 2],
    ]);
    emulator.stop('test');
    await emulator.done;
  });
}

test('the status carries the handler metric names, summed', async () => {
  const f = fakeInvoker();
  const { consumer, emulator } = setup(f.invoke, { batchSize: 10 });
  await emulator.start();
  await feed(consumer, 0, [message(0), message(1)]).handled;
  const { metrics } = emulator.status();
  assert.deepEqual(Object.keys(metrics), [...METRIC_NAMES]);
  assert.equal(metrics.RecordsReceived, 2);
  assert.equal(metrics.PostgresWritten, 2);
  emulator.stop('test');
  await emulator.done;
});

test('a topic re-created before the start (its end below the committed offset): warned, the group restarts at its beginning', async () => {
  const warnings: string[] = [];
  const log = { ...silent, warn: ((_: unknown, m: string) => void warnings.push(m)) as never };
  const { admin, emulator } = setup(fakeInvoker().invoke, { log });
  admin.committed.set(0, 500);
  admin.marks = [{ partition: 0, low: 0, high: 20 }];
  await emulator.start();
  assert.deepEqual(admin.setOffsetsCalls.at(-1)?.partitions, [{ partition: 0, offset: '0' }]);
  assert.match(warnings.join('\n'), /was re-created/);
  assert.equal(emulator.status().recreatedPartitions, 1);
  emulator.stop('test');
  await emulator.done;
});

test('a topic re-created while running: warned, the consumer seeks to the new beginning, lag counts from there', async () => {
  const warnings: string[] = [];
  const log = { ...silent, warn: ((_: unknown, m: string) => void warnings.push(m)) as never };
  const { consumer, admin, emulator } = setup(fakeInvoker().invoke, {
    log,
    statusEveryMs: 5,
    onStatus: () => undefined,
  });
  admin.committed.set(0, 50);
  admin.marks = [{ partition: 0, low: 0, high: 50 }];
  await emulator.start();
  admin.marks = [{ partition: 0, low: 0, high: 7 }];
  const deadline = Date.now() + 2_000;
  while (consumer.seeks.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(consumer.seeks, [{ partition: 0, offset: '0' }]);
  assert.match(warnings.join('\n'), /was re-created/);
  await new Promise((r) => setTimeout(r, 30));
  assert.deepEqual(emulator.status().lag, { 'quotes-0': 7 });
  emulator.stop('test');
  await emulator.done;
});

test('a topic re-created while running, its end already at the old position: the committed offset is gone, so the batch is dropped and the partition restarts at the beginning', async () => {
  const warnings: string[] = [];
  const log = { ...silent, warn: ((_: unknown, m: string) => void warnings.push(m)) as never };
  const f = fakeInvoker();
  const { consumer, admin, emulator } = setup(f.invoke, { log });
  admin.committed.set(0, 10);
  admin.marks = [{ partition: 0, low: 0, high: 10 }];
  await emulator.start();
  // Kafka deleted the old topic's offsets; the new topic has 12 records, so its end passed ours.
  admin.committed.set(0, -1);
  admin.marks = [{ partition: 0, low: 0, high: 12 }];
  await feed(consumer, 0, [message(10), message(11)]).handled;
  assert.equal(f.events.length, 0, 'the records past the old position are not delivered first');
  assert.deepEqual(consumer.commits, [{ topic: TOPIC, partition: 0, offset: '0' }]);
  assert.deepEqual(consumer.seeks, [{ partition: 0, offset: '0' }]);
  assert.match(warnings.join('\n'), /was re-created/);
  assert.equal(emulator.status().recreatedPartitions, 1);
  emulator.stop('test');
  await emulator.done;
});
