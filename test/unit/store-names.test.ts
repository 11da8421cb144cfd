/**
 * A store's name comes from the store alone: a third record store, in memory, is counted in the
 * batch summary, the EMF metrics, the emulator's status and the status file the UI reads, with no
 * list of names to extend.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { createSinkHandler } from '../../handlers/sink';
import { loadConfig } from '../../lib/config';
import { createLogger } from '../../lib/log';
import { quoteType, type Quote } from '../helpers/quote-reference';
import { processBatch, type BatchSummary } from '../../lib/sink/batch';
import { buildEvent, toEventRecord } from '../../tools/emulator/event';
import { doneLine } from '../../tools/emulator/report';
import { StatusAccumulator } from '../../tools/emulator/status';
import { EmulatorStatusWriter, readEmulatorStatuses } from '../../tools/ui/status-file';
import { MemoryRecordStore, memoryStores } from '../helpers/memory-stores';

const event = (n: number) =>
  buildEvent(
    'self-managed',
    '127.0.0.1:9092',
    Array.from({ length: n }, (_, i) =>
      toEventRecord({
        topic: 'quotes',
        partition: 0,
        offset: i,
        timestamp: 1,
        key: null,
        value: JSON.stringify({ quote: `Quote ${i}`, character: 'Moe' }),
      }),
    ),
  );

/** The two built-in stores' stand-ins and a third, `in-memory`, that no list in the code names. */
function threeStores() {
  const s = memoryStores<Quote>();
  const third = new MemoryRecordStore<Quote>('in-memory');
  return { ...s, records: [...s.records, third], third };
}

/** One batch of four records, written to three fresh stores. */
const summary = (): Promise<BatchSummary> => processBatch(event(4), quoteType, threeStores(), { tombstones: 'skip' });

const dir = mkdtempSync(path.join(tmpdir(), 'store-names-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test("the batch summary counts and times every record store under the store's own name", async () => {
  const stores = threeStores();
  const s = await processBatch(event(5), quoteType, stores, { tombstones: 'skip' });
  assert.deepEqual(Object.keys(s.stores), ['postgres', 'mongo', 'in-memory']);
  assert.deepEqual(s.stores['in-memory'], { written: 5, alreadyPresent: 0 });
  assert.equal(typeof s.durationMs.stores['in-memory'], 'number');
  assert.equal(stores.third.byId.size, 5);
  const again = await processBatch(event(5), quoteType, stores, { tombstones: 'skip' });
  assert.deepEqual(again.stores['in-memory'], { written: 0, alreadyPresent: 5 });
});

test('the EMF line carries the third store as InMemoryWritten, InMemoryAlreadyPresent and InMemoryMs', async () => {
  const emitted: string[] = [];
  const handle = createSinkHandler({
    config: loadConfig({}),
    log: createLogger('silent'),
    stores: threeStores(),
    emit: (l) => emitted.push(l),
  });
  await handle(event(3), { awsRequestId: 'r', invokedFunctionArn: 'arn', functionVersion: '1', functionName: 'sink' });
  const doc = JSON.parse(emitted[0]) as Record<string, unknown> & {
    _aws: { CloudWatchMetrics: { Metrics: { Name: string }[] }[] };
  };
  assert.equal(doc.InMemoryWritten, 3);
  assert.equal(doc.InMemoryAlreadyPresent, 0);
  assert.equal(typeof doc.InMemoryMs, 'number');
  const names = doc._aws.CloudWatchMetrics[0].Metrics.map((m) => m.Name);
  for (const n of ['InMemoryWritten', 'InMemoryAlreadyPresent', 'InMemoryMs']) assert.ok(names.includes(n), n);
});

test("the emulator's status and the UI's status file count the third store's records, the built-in ones still there", async () => {
  const acc = new StatusAccumulator(() => 0);
  acc.eventDone(await summary());
  acc.eventDone(await summary());
  const st = acc.snapshot();
  assert.deepEqual(st.written, { postgres: 8, mongo: 8, 'in-memory': 8 });
  assert.equal(st.metrics.InMemoryWritten, 8);
  assert.equal(st.metrics.PostgresWritten, 8);
  assert.match(doneLine(st), /^done: 8 records, 8 written,/);

  const w = new EmulatorStatusWriter({ topic: 'quotes', groupId: 'g', dir, now: () => 1_000 });
  w.update(st);
  const [file] = readEmulatorStatuses({ dir, topic: 'quotes', now: 1_000 });
  assert.deepEqual(file.written, { postgres: 8, mongo: 8, 'in-memory': 8 });
  w.stop();
});
