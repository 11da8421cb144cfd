/** The emulator's retry parts: backoff, an abortable wait, which errors are retried, and the final error. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { abortableSleep, asError, backoffMs, isRetriable, RetriesExhaustedError } from '../../tools/emulator/retry';
import { InvalidEventError } from '../../lib/event/errors';
import { StoreWriteError } from '../../lib/sink/errors';

const storeDown = () =>
  new StoreWriteError({ store: 'postgres', partitions: {}, chunk: { from: 0, to: 1 } }, new Error('ECONNREFUSED'));

test('an abort during abortableSleep rejects at once with the reason', async () => {
  const controller = new AbortController();
  const stop = new Error('SIGTERM');
  const started = Date.now();
  const sleeping = abortableSleep(60_000, controller.signal);
  setImmediate(() => controller.abort(stop));
  await assert.rejects(sleeping, (e) => e === stop);
  assert.ok(Date.now() - started < 1_000, 'did not wait out the backoff');
});

test('an aborted signal stops abortableSleep before it waits', async () => {
  const controller = new AbortController();
  controller.abort(new Error('stopped'));
  await assert.rejects(abortableSleep(60_000, controller.signal), /stopped/);
});

test('a programming error (TypeError, ReferenceError) is not retriable', () => {
  assert.equal(isRetriable(new TypeError("Cannot read properties of undefined (reading 'x')")), false);
  assert.equal(isRetriable(new ReferenceError('x is not defined')), false);
});

test('an error marked non-retriable (InvalidEventError) is not retriable', () => {
  assert.equal(isRetriable(new InvalidEventError('no records')), false);
});

test('the final failure is wrapped in RetriesExhaustedError with its cause', () => {
  const last = storeDown();
  const err = new RetriesExhaustedError(3, last);
  assert.equal(err.attempts, 3);
  assert.equal(err.cause, last);
  assert.match(err.message, /gave up after 3 attempts: postgres write failed/);
  assert.match(new RetriesExhaustedError(1, last).message, /gave up after 1 attempt: /);
});

test('a non-Error rejection is passed on as an Error', () => {
  const e = asError('plain string');
  assert.ok(e instanceof Error);
  assert.equal(e.message, 'plain string');
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
