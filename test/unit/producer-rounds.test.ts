/** The producer's --every schedule (tools/producer/rounds.ts): rounds, stopping, and failures. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { perSecond, runRounds } from '../../tools/producer/rounds';

const ok = async () => ({ sent: 1, ms: 1 });

test('without everyMs: one round', async () => {
  const seen: number[] = [];
  const n = await runRounds(async (i) => (seen.push(i), ok()), {
    signal: new AbortController().signal,
    onError: assert.fail,
  });
  assert.equal(n, 1);
  assert.deepEqual(seen, [1]);
});

test('an abort during the wait stops at once, not after the interval', async () => {
  const ac = new AbortController();
  const t0 = Date.now();
  const done = runRounds(ok, { everyMs: 60_000, signal: ac.signal, onError: assert.fail });
  setTimeout(() => ac.abort(), 50);
  assert.equal(await done, 1);
  assert.ok(Date.now() - t0 < 1_000);
});

test('rounds repeat until aborted; a round in progress finishes', async () => {
  const ac = new AbortController();
  const finished: number[] = [];
  const round = async (i: number) => {
    if (i === 3) ac.abort();
    await new Promise((r) => setTimeout(r, 20));
    finished.push(i);
    return ok();
  };
  assert.equal(await runRounds(round, { everyMs: 10, signal: ac.signal, onError: assert.fail }), 3);
  assert.deepEqual(finished, [1, 2, 3]);
});

test('the first round failing is thrown; later failures are reported and the schedule goes on', async () => {
  const signal = new AbortController().signal;
  await assert.rejects(
    runRounds(() => Promise.reject(new Error('bad url')), { everyMs: 10, signal, onError: assert.fail }),
    /bad url/,
  );
  const ac = new AbortController();
  const errors: number[] = [];
  const round = async (i: number) => {
    if (i === 4) ac.abort();
    if (i === 2) throw new Error('api down');
    return ok();
  };
  assert.equal(await runRounds(round, { everyMs: 5, signal: ac.signal, onError: (_e, i) => errors.push(i) }), 4);
  assert.deepEqual(errors, [2]);
});

test('perSecond: a rate, never a division by zero', () => {
  assert.equal(perSecond(100, 500), 200);
  assert.equal(perSecond(5, 0), 5000);
});
