/** The handler over in-memory stores: partial batch responses, Lambda context in logs, the EMF line. */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { createSinkHandler } from '../../handlers/sink';
import { loadConfig } from '../../lib/config';
import { buildEvent, toEventRecord } from '../../tools/emulator/event';
import { createLogger } from '../../lib/log';
import type { Quote } from '../../lib/records/quote';
import { firstUnwritten } from '../../lib/sink/batch';
import { METRIC_NAMES } from '../../lib/sink/metrics';
import { failingWrites } from '../helpers/faults';
import { memoryStores } from '../helpers/memory-stores';
import { quote as quoteValue } from '../helpers/factories';

const quote = (i: number) => quoteValue(i, { character: 'Moe' });
/** 30 records: partition 0 offsets 0..14, then partition 1 offsets 0..14. */
const event = () =>
  buildEvent(
    'msk',
    'b-1:9098',
    Array.from({ length: 30 }, (_, i) =>
      toEventRecord({
        topic: 'quotes',
        partition: i < 15 ? 0 : 1,
        offset: i % 15,
        timestamp: 1,
        key: null,
        value: quote(i),
      }),
    ),
  );

function capture() {
  const lines: string[] = [];
  const stream = new Writable({ write: (c, _e, cb) => (lines.push(...String(c).trim().split('\n')), cb()) });
  return { lines, log: createLogger('info', 'test', stream) };
}

const context = {
  awsRequestId: 'req-1',
  invokedFunctionArn: 'arn:aws:lambda:eu-west-1:1:function:sink',
  functionVersion: '$LATEST',
  functionName: 'sink',
};

describe('partial batch response', () => {
  test('a chunk failing after earlier chunks were written answers the first unwritten offset per partition', async () => {
    const s = memoryStores<Quote>();
    const stores = { ...s, records: [s.postgres, failingWrites(s.mongo, (call) => call === 2)] };
    const config = loadConfig({ SINK_WRITE_CHUNK: '10', SINK_PARTIAL_BATCH_RESPONSE: 'true' });
    const handle = createSinkHandler({ config, log: capture().log, stores, emit: () => undefined });
    const response = await handle(event(), context);
    // Chunk 2 holds records 10..19: partition 0 offsets 10..14 and partition 1 offsets 0..4.
    assert.deepEqual(response, {
      batchItemFailures: [
        { itemIdentifier: { 'topic-partition': 'quotes-0', offset: 10 } },
        { itemIdentifier: { 'topic-partition': 'quotes-1', offset: 0 } },
      ],
    });
  });

  test('the first chunk failing still throws: nothing was written', async () => {
    const s = memoryStores<Quote>();
    const stores = { ...s, records: [s.postgres, failingWrites(s.mongo, () => true)] };
    const config = loadConfig({ SINK_WRITE_CHUNK: '10', SINK_PARTIAL_BATCH_RESPONSE: 'true' });
    await assert.rejects(
      createSinkHandler({ config, log: capture().log, stores, emit: () => undefined })(event(), context),
    );
  });

  test('without ReportBatchItemFailures on the mapping a failure throws, as the mapping expects', async () => {
    const s = memoryStores<Quote>();
    const stores = { ...s, records: [s.postgres, failingWrites(s.mongo, (call) => call === 2)] };
    const config = loadConfig({ SINK_WRITE_CHUNK: '10' });
    await assert.rejects(
      createSinkHandler({ config, log: capture().log, stores, emit: () => undefined })(event(), context),
    );
  });

  test('firstUnwritten takes the lowest offset of each partition from a position on', () => {
    const records = event().records;
    const all = [...records['quotes-0'], ...records['quotes-1']];
    assert.deepEqual(firstUnwritten(all, 25), [{ itemIdentifier: { 'topic-partition': 'quotes-1', offset: 10 } }]);
  });
});

describe('logs and metrics', () => {
  test('every log line carries the request id, function ARN and version, and cold start', async () => {
    const { lines, log } = capture();
    const handle = createSinkHandler({
      config: loadConfig({}),
      log,
      stores: memoryStores<Quote>(),
      emit: () => undefined,
    });
    await handle(event(), context);
    await handle(event(), { ...context, awsRequestId: 'req-2' });
    const [first, second] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(first.requestId, 'req-1');
    assert.equal(first.functionArn, context.invokedFunctionArn);
    assert.equal(first.functionVersion, '$LATEST');
    assert.equal(first.coldStart, true);
    assert.equal(second.coldStart, false);
  });

  test('one EMF line per batch with the documented shape and every metric', async () => {
    const emitted: string[] = [];
    const handle = createSinkHandler({
      config: loadConfig({}),
      log: capture().log,
      stores: memoryStores<Quote>(),
      emit: (l) => emitted.push(l),
    });
    await handle(event(), context);
    assert.equal(emitted.length, 1);
    const doc = JSON.parse(emitted[0]) as {
      _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[] };
    } & Record<string, unknown>;
    const directive = doc._aws.CloudWatchMetrics[0];
    assert.equal(directive.Namespace, 'QuotesSink');
    // The function's metrics, and the same values as the batch's one route's (AWS sends one topic per mapping).
    assert.deepEqual(directive.Dimensions, [['FunctionName'], ['FunctionName', 'Route']]);
    assert.equal(doc.Route, 'quotes');
    for (const name of METRIC_NAMES) {
      assert.ok(
        directive.Metrics.some((m) => m.Name === name),
        name,
      );
      assert.equal(typeof doc[name], 'number', name);
    }
    assert.equal(doc.FunctionName, 'sink');
    assert.equal(doc.RecordsReceived, 30);
    assert.equal(doc.MongoWritten, 30);
  });
});
