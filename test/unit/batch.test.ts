/** processBatch and its steps, with in-memory stores: no database, no Kafka. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BatchWriteError, StoreWriteError } from '../../lib/sink/errors';
import { InvalidEventError } from '../../lib/event/errors';
import { buildEvent, toEventRecord } from '../../tools/emulator/event';
import { clusterKey, clusterName, storedId } from '../../lib/event/coordinates';
import type { KafkaEventRecord } from '../../lib/event/types';
import type { Quote } from '../../lib/records/quote';
import { quoteType } from '../helpers/quote-type';
import { processBatch } from '../../lib/sink/batch';
import { BatchAccumulator, chunkBounds, prepareChunk } from '../../lib/sink/prepare';
import { writeChunk } from '../../lib/sink/write';
import { failingWrites } from '../helpers/faults';
import { MemoryRecordStore, memoryStores } from '../helpers/memory-stores';
import { quote as quoteValue } from '../helpers/factories';

const quote = (i: number) => quoteValue(i, { character: `C${i % 5}` });
const rec = (
  partition: number,
  offset: number,
  value: string | null,
  key: string | null = `k${offset}`,
): KafkaEventRecord =>
  toEventRecord({ topic: 'quotes', partition, offset, timestamp: 1_700_000_000_000 + offset, key, value });
const event = (records: KafkaEventRecord[]) => buildEvent('self-managed', '127.0.0.1:9092', records);
/** `n` valid records over `partitions` partitions, offsets from 0. */
const valid = (n: number, partitions = 1) =>
  Array.from({ length: n }, (_, i) => rec(i % partitions, Math.floor(i / partitions), quote(i)));
const opts = { tombstones: 'skip' as const };
/** The stored id of a record of {@link event}'s cluster. */
const KEY = clusterKey(clusterName({ bootstrapServers: '127.0.0.1:9092' }));
const id = (partition: number, offset: number) => storedId(KEY, { topic: 'quotes', partition, offset });

describe('chunkBounds', () => {
  test('splits n records into chunks of the given size, the last one shorter', () => {
    assert.deepEqual(
      [...chunkBounds(25, 10)],
      [
        { from: 0, to: 10 },
        { from: 10, to: 20 },
        { from: 20, to: 25 },
      ],
    );
  });
  test('an empty event has no chunk', () => assert.deepEqual([...chunkBounds(0, 10)], []));
  test('a size below 1 counts as 1', () => assert.equal([...chunkBounds(3, 0)].length, 3));
});

describe('prepareChunk', () => {
  test('sorts records into valid, dead letters and tombstones, and counts them', () => {
    const all = [rec(0, 0, quote(0)), rec(0, 1, '{"quote":"no character"}'), rec(0, 2, null), rec(0, 3, 'not json')];
    const acc = new BatchAccumulator();
    const chunk = prepareChunk(all, { from: 0, to: 4 }, quoteType, acc);
    assert.equal(chunk.records.length, 1);
    assert.deepEqual(
      chunk.deadLetters.map((d) => d.error.kind),
      ['schema', 'json'],
    );
    assert.equal(chunk.tombstones.length, 1);
    assert.deepEqual(chunk.partitions, { 'quotes-0': { first: 0, last: 3, count: 4 } });
    assert.deepEqual(acc.deadByKind, { schema: 1, json: 1 });
    assert.equal(acc.valid, 1);
  });

  test('a record repeated in a later chunk is counted once and left out', () => {
    const all = [rec(0, 0, quote(0)), rec(0, 1, quote(1)), rec(0, 0, quote(0))];
    const acc = new BatchAccumulator();
    prepareChunk(all, { from: 0, to: 2 }, quoteType, acc);
    const second = prepareChunk(all, { from: 2, to: 3 }, quoteType, acc);
    assert.equal(second.records.length, 0);
    assert.equal(acc.duplicateInEvent, 1);
    assert.deepEqual(acc.partitions.toJSON(), { 'quotes-0': { first: 0, last: 1, count: 3 } });
  });
});

describe('writeChunk', () => {
  test('a failing store gives a typed outcome naming the store and the chunk, not a rejection', async () => {
    const s = memoryStores<Quote>();
    const stores = { ...s, records: [s.postgres, failingWrites(s.mongo, () => true)] };
    const acc = new BatchAccumulator();
    const chunk = prepareChunk(valid(4), { from: 0, to: 4 }, quoteType, acc);
    const outcome = await writeChunk(stores, chunk, new Date());
    assert.equal(outcome.ok, false);
    assert.ok(!outcome.ok && outcome.error instanceof StoreWriteError);
    assert.ok(!outcome.ok && outcome.error instanceof StoreWriteError && outcome.error.store === 'mongo');
    assert.ok(!outcome.ok && outcome.error.retriable);
    assert.equal(s.postgres.byId.size, 0, "the other store's copies of the failed chunk are taken out");
  });

  test('both stores failing give one BatchWriteError holding both', async () => {
    const s = memoryStores<Quote>();
    const stores = { ...s, records: s.records.map((r) => failingWrites(r, () => true)) };
    const chunk = prepareChunk(valid(2), { from: 0, to: 2 }, quoteType, new BatchAccumulator());
    const outcome = await writeChunk(stores, chunk, new Date());
    assert.ok(!outcome.ok && outcome.error instanceof BatchWriteError && outcome.error.errors.length === 2);
  });

  test('no dead letters: the dead-letter store is not called', async () => {
    const s = memoryStores<Quote>();
    let called = false;
    s.dead.write = async () => {
      called = true;
      return { written: 0, alreadyPresent: 0 };
    };
    await writeChunk(s, prepareChunk(valid(2), { from: 0, to: 2 }, quoteType, new BatchAccumulator()), new Date());
    assert.equal(called, false);
  });
});

describe('processBatch with in-memory stores', () => {
  test('writes in chunks of writeChunk records, every store the same', async () => {
    const s = memoryStores<Quote>();
    const summary = await processBatch(event(valid(25, 2)), quoteType, s, { ...opts, writeChunk: 10 });
    assert.deepEqual(s.postgres.chunkSizes, [10, 10, 5]);
    assert.deepEqual(s.mongo.chunkSizes, [10, 10, 5]);
    assert.deepEqual(summary.stores.postgres, { written: 25, alreadyPresent: 0 });
    assert.deepEqual(summary.stores.mongo, { written: 25, alreadyPresent: 0 });
    assert.deepEqual(summary.partitions, {
      'quotes-0': { first: 0, last: 12, count: 13 },
      'quotes-1': { first: 0, last: 11, count: 12 },
    });
  });

  test('a replayed batch adds nothing and counts everything as present', async () => {
    const s = memoryStores<Quote>();
    const ev = event(valid(7));
    await processBatch(ev, quoteType, s, opts);
    const again = await processBatch(ev, quoteType, s, opts);
    assert.deepEqual(again.stores.postgres, { written: 0, alreadyPresent: 7 });
    assert.deepEqual(again.stores.mongo, { written: 0, alreadyPresent: 7 });
  });

  test('in-event duplicates are written once', async () => {
    const s = memoryStores<Quote>();
    const records = valid(5);
    const summary = await processBatch(event([...records, records[2]]), quoteType, s, opts);
    assert.equal(summary.received, 6);
    assert.equal(summary.duplicateInEvent, 1);
    assert.equal(s.mongo.byId.size, 5);
  });

  test('dead letters go to the dead-letter store with their kind; the rest is written', async () => {
    const s = memoryStores<Quote>();
    const records = [...valid(3), rec(0, 10, '{"character":"Homer"}'), rec(0, 11, '%%%')];
    const summary = await processBatch(event(records), quoteType, s, opts);
    assert.deepEqual(summary.deadLettered, { written: 2, alreadyPresent: 0, byKind: { schema: 1, json: 1 } });
    assert.equal(s.dead.byId.size, 2);
    assert.equal(s.postgres.byId.size, 3);
  });

  test('a failure in chunk 3 of 5: the batch throws naming that chunk once chunk 4 (sent while 3 was written) is done; chunks 1, 2 and 4 stay, chunk 5 is never sent', async () => {
    const s = memoryStores<Quote>();
    const stores = { ...s, records: [s.postgres, failingWrites(s.mongo, (call) => call === 3)] };
    await assert.rejects(
      processBatch(event(valid(50)), quoteType, stores, { ...opts, writeChunk: 10 }),
      (e: unknown) => e instanceof StoreWriteError && e.store === 'mongo' && e.chunk.from === 20 && e.chunk.to === 30,
    );
    assert.equal(s.mongo.byId.size, 30, 'chunks 1, 2 and 4');
    assert.equal(s.postgres.byId.size, 30, 'chunk 3 reached the other store, which took it out again');
    const retry = await processBatch(event(valid(50)), quoteType, s, { ...opts, writeChunk: 10 });
    assert.deepEqual(retry.stores.mongo, { written: 20, alreadyPresent: 30 });
    assert.deepEqual(retry.stores.postgres, { written: 20, alreadyPresent: 30 });
  });

  test("a chunk's writes leave before the next chunk is prepared (they overlap its decoding)", async () => {
    const order: string[] = [];
    /** Sends on a later tick, as pg's pool does (it hands out a client with process.nextTick). */
    class SendingStore extends MemoryRecordStore<Quote> {
      private chunk = 0;
      override async write(records: Parameters<MemoryRecordStore<Quote>['write']>[0]) {
        const n = ++this.chunk;
        await new Promise<void>((resolve) => process.nextTick(resolve));
        order.push(`sent ${n}`);
        return super.write(records);
      }
      // Screens run while a chunk is prepared: the first record of each chunk marks it.
      screen(g: { meta: { coordinates: { offset: number } } }) {
        const o = g.meta.coordinates.offset;
        if (o % 10 === 0) order.push(`prepared ${o / 10 + 1}`);
        return undefined;
      }
    }
    const s = memoryStores<Quote>();
    const store = new SendingStore('postgres');
    await processBatch(event(valid(30)), quoteType, { ...s, records: [store] }, { ...opts, writeChunk: 10 });
    assert.deepEqual(order, ['prepared 1', 'sent 1', 'prepared 2', 'sent 2', 'prepared 3', 'sent 3']);
    assert.equal(store.byId.size, 30);
  });

  test('tombstones are counted and skipped in skip mode', async () => {
    const s = memoryStores<Quote>();
    const summary = await processBatch(event([rec(0, 0, quote(0), 'Moe'), rec(0, 1, null, 'Moe')]), quoteType, s, opts);
    assert.deepEqual(summary.tombstones, { received: 1, deleted: 0 });
    assert.deepEqual(s.postgres.deleteCalls, []);
  });

  test('tombstones in delete mode: one call per store for the whole batch, within the tombstone partition', async () => {
    const s = memoryStores<Quote>();
    const records = [
      rec(0, 5, quote(1), 'Moe'),
      rec(1, 2, quote(2), 'Moe'),
      rec(0, 6, null, 'Moe'),
      rec(0, 7, quote(3), 'Barney'),
      rec(0, 8, null, 'Barney'),
    ];
    const summary = await processBatch(event(records), quoteType, s, { tombstones: 'delete', writeChunk: 2 });
    assert.deepEqual(summary.tombstones, { received: 2, deleted: 2 });
    assert.deepEqual(s.postgres.deleteCalls, [2]);
    assert.deepEqual([...s.mongo.byId.keys()], [id(1, 2)], 'the older record in the other partition stays');
  });

  test('an event that is not a Kafka event is rejected whole and nothing is written', async () => {
    const s = memoryStores<Quote>();
    await assert.rejects(processBatch({ records: {} }, quoteType, s, opts), InvalidEventError);
    assert.deepEqual(s.postgres.chunkSizes, []);
  });

  test('an empty event writes nothing', async () => {
    const s = memoryStores<Quote>();
    const summary = await processBatch(event([]), quoteType, s, opts);
    assert.equal(summary.received, 0);
    assert.deepEqual(s.postgres.chunkSizes, []);
  });
});

describe('records a store refuses for their content', () => {
  const refuseOffset3 = (r: { meta: { coordinates: { offset: number } } }) =>
    r.meta.coordinates.offset === 3 ? 'nested arrays are not supported' : undefined;

  test('are dead-lettered with kind store and the reason, taken out of the other store, and the rest is written', async () => {
    const s = memoryStores<Quote>();
    const picky = new MemoryRecordStore<Quote>('mongo', refuseOffset3);
    const stores = { records: [s.postgres, picky], deadLetters: s.dead };
    const summary = await processBatch(event(valid(6)), quoteType, stores, opts);
    assert.deepEqual([...s.dead.byId.keys()], [id(0, 3)]);
    assert.match(s.dead.byId.get(id(0, 3))?.error.detail ?? '', /^mongo refused the record: nested arrays/);
    assert.equal(s.dead.byId.get(id(0, 3))?.valueBase64, Buffer.from(quote(3)).toString('base64'));
    assert.equal(s.postgres.byId.has(id(0, 3)), false, 'not left in the store that accepted it');
    assert.equal(s.postgres.byId.size, 5);
    assert.equal(picky.byId.size, 5);
    assert.equal(summary.valid, 5);
    assert.deepEqual(summary.stores.postgres, { written: 5, alreadyPresent: 0 });
    assert.deepEqual(summary.stores.mongo, { written: 5, alreadyPresent: 0 });
    assert.deepEqual(summary.deadLettered, { written: 1, alreadyPresent: 0, byKind: { store: 1 } });
  });

  test('a replay ends in the same place and adds nothing', async () => {
    const s = memoryStores<Quote>();
    const stores = { records: [s.postgres, new MemoryRecordStore<Quote>('mongo', refuseOffset3)], deadLetters: s.dead };
    await processBatch(event(valid(6)), quoteType, stores, opts);
    const again = await processBatch(event(valid(6)), quoteType, stores, opts);
    assert.deepEqual(again.stores.postgres, { written: 0, alreadyPresent: 5 });
    assert.deepEqual(again.deadLettered, { written: 0, alreadyPresent: 1, byKind: { store: 1 } });
    assert.equal(s.postgres.byId.size, 5);
  });
});

describe('a record that cannot even be prepared', () => {
  test('a timestamp beyond what the stores hold is dead-lettered, the rest written', async () => {
    const s = memoryStores<Quote>();
    const bad = { ...rec(0, 1, quote(1)), timestamp: 9e15 };
    const summary = await processBatch(event([rec(0, 0, quote(0)), bad]), quoteType, s, opts);
    assert.deepEqual(summary.deadLettered.byKind, { unstorable: 1 });
    assert.equal(s.postgres.byId.size, 1);
  });

  test('a value nested 5,000 levels deep is dead-lettered without overflowing the stack', async () => {
    const s = memoryStores<Quote>();
    const deep = `{"quote":"q","character":"c","x":${'['.repeat(5000)}${']'.repeat(5000)}}`;
    const summary = await processBatch(event([rec(0, 0, deep), rec(0, 1, quote(1))]), quoteType, s, opts);
    assert.deepEqual(summary.deadLettered.byKind, { unstorable: 1 });
    assert.match([...s.dead.byId.values()][0].error.detail, /nested more than 90 levels/);
  });

  test('a number beyond double precision (1e400) is dead-lettered rather than stored as something else', async () => {
    const s = memoryStores<Quote>();
    const summary = await processBatch(
      event([rec(0, 0, '{"quote":"q","character":"c","n":1e400}')]),
      quoteType,
      s,
      opts,
    );
    assert.deepEqual(summary.deadLettered.byKind, { unstorable: 1 });
  });
});

test('a value with 200,000 field names is dead-lettered instead of timing out its batch on every retry', async () => {
  const s = memoryStores<Quote>();
  const many = Object.fromEntries(Array.from({ length: 200_000 }, (_, i) => [`k${i}`, i]));
  const value = JSON.stringify({ quote: 'q', character: 'c', many });
  const summary = await processBatch(event([rec(0, 0, value), rec(0, 1, quote(1))]), quoteType, s, opts);
  assert.deepEqual(summary.deadLettered.byKind, { unstorable: 1 });
  assert.equal(s.postgres.byId.size, 1);
});
