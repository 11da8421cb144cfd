/** The emulator's retrier: backoff, abort, which errors are retried, and the final error. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  abortableSleep,
  backoffMs,
  isRetriable,
  RetriesExhaustedError,
  withRetry,
  type RetryOptions,
} from '../../tools/emulator/retry';
import { InvalidEventError } from '../../lib/event/errors';
import { StoreWriteError } from '../../lib/sink/errors';

const fast: RetryOptions = { attempts: 'forever', baseMs: 1, capMs: 2 };
const storeDown = () =>
  new StoreWriteError({ store: 'postgres', partitions: {}, chunk: { from: 0, to: 1 } }, new Error('ECONNREFUSED'));

/** A function failing with `errors` in turn, then returning 'ok'; counts its calls. */
function failing(...errors: Error[]) {
  let calls = 0;
  const fn = async () => {
    const e = errors[calls++];
    if (e) throw e;
    return 'ok';
  };
  return { fn, calls: () => calls };
}

test('succeeds after k failures, reporting each retry', async () => {
  const f = failing(storeDown(), storeDown(), storeDown());
  const retries: number[] = [];
  assert.equal(await withRetry(f.fn, fast, { onRetry: (attempt) => retries.push(attempt) }), 'ok');
  assert.equal(f.calls(), 4);
  assert.deepEqual(retries, [1, 2, 3]);
});

test('an abort during the backoff wait rejects at once with the reason', async () => {
  const controller = new AbortController();
  const f = failing(storeDown(), storeDown());
  const stop = new Error('SIGTERM');
  const started = Date.now();
  const run = withRetry(
    f.fn,
    { attempts: 'forever', baseMs: 60_000, capMs: 60_000 },
    {
      signal: controller.signal,
      onRetry: () => setImmediate(() => controller.abort(stop)),
    },
  );
  await assert.rejects(run, (e) => e === stop);
  assert.ok(Date.now() - started < 1_000, 'did not wait out the backoff');
  assert.equal(f.calls(), 1);
});

test('an aborted signal stops before the first attempt', async () => {
  const controller = new AbortController();
  controller.abort(new Error('stopped'));
  const f = failing();
  await assert.rejects(withRetry(f.fn, fast, { signal: controller.signal }), /stopped/);
  assert.equal(f.calls(), 0);
});

test('a programming error (TypeError) is not retried', async () => {
  const bug = new TypeError("Cannot read properties of undefined (reading 'x')");
  const f = failing(bug);
  await assert.rejects(withRetry(f.fn, fast), (e) => e === bug);
  assert.equal(f.calls(), 1);
});

test('a ReferenceError is not retried', async () => {
  const f = failing(new ReferenceError('x is not defined'));
  await assert.rejects(withRetry(f.fn, fast), ReferenceError);
  assert.equal(f.calls(), 1);
});

test('an error marked non-retriable (InvalidEventError) is not retried', async () => {
  const f = failing(new InvalidEventError('no records'));
  await assert.rejects(withRetry(f.fn, fast), InvalidEventError);
  assert.equal(f.calls(), 1);
});

test('the final failure is wrapped in RetriesExhaustedError with its cause', async () => {
  const last = storeDown();
  const f = failing(storeDown(), storeDown(), last, storeDown());
  const err = await withRetry(f.fn, { ...fast, attempts: 3 }).then(
    () => assert.fail('should have given up'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof RetriesExhaustedError);
  assert.equal(err.attempts, 3);
  assert.equal(err.cause, last);
  assert.match(err.message, /gave up after 3 attempts: postgres write failed/);
  assert.equal(f.calls(), 3);
});

test('attempts: 1 means no retry at all', async () => {
  const f = failing(storeDown());
  await assert.rejects(withRetry(f.fn, { ...fast, attempts: 1 }), RetriesExhaustedError);
  assert.equal(f.calls(), 1);
});

test('a non-Error rejection is passed on as an Error', async () => {
  const fn = () => Promise.reject('plain string');
  await assert.rejects(
    withRetry(fn, { ...fast, attempts: 1 }),
    (e) => e instanceof RetriesExhaustedError && e.cause instanceof Error,
  );
});

test('plain errors and retriable store errors are retriable', () => {
  assert.equal(isRetriable(new Error('ECONNRESET')), true);
  assert.equal(isRetriable(storeDown()), true);
  assert.equal(isRetriable(Object.assign(new Error('kafkajs'), { retriable: false })), false);
});

test('backoff doubles from the base, is capped, and keeps 50-100 % of the step', () => {
  const o = { baseMs: 200, capMs: 1_000 };
  assert.equal(
    backoffMs(1, o, () => 1),
    200,
  );
  assert.equal(
    backoffMs(3, o, () => 1),
    800,
  );
  assert.equal(
    backoffMs(10, o, () => 1),
    1_000,
  );
  assert.equal(
    backoffMs(3, o, () => 0),
    400,
  );
});

test('abortableSleep resolves after its time when not aborted', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  let done = false;
  const sleeping = abortableSleep(1_000, new AbortController().signal).then(() => (done = true));
  t.mock.timers.tick(999);
  await Promise.resolve();
  assert.equal(done, false);
  t.mock.timers.tick(1);
  await sleeping;
  assert.equal(done, true);
});
