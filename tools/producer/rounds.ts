/**
 * The producer's schedule, like NiFi's "run schedule": one round now, then one every `everyMs`
 * (start to start) until stopped. Stopping ends a wait at once; a round in progress finishes, so
 * no publish is cut in half.
 */
import { setTimeout as sleep } from 'node:timers/promises';

/** What one round did, for its report line. */
export interface RoundResult {
  sent: number;
  ms: number;
}

export interface RoundsOptions {
  /** Time between round starts; undefined runs one round. */
  everyMs?: number;
  /** Aborting stops the schedule: no new round starts, and a wait ends at once. */
  signal: AbortSignal;
  /** A failure of a round after the first; the schedule goes on. */
  onError: (e: unknown, round: number) => void;
}

/**
 * Runs `round(1)`, then with `everyMs` `round(2)`, `round(3)`, … until `signal` aborts. The first
 * round's failure is thrown: a wrong URL, file or topic is not worth repeating. Later failures
 * (the API was down for a minute) go to `onError`. Returns how many rounds ran.
 */
export async function runRounds(round: (n: number) => Promise<RoundResult>, o: RoundsOptions): Promise<number> {
  let n = 1;
  let started = Date.now();
  await round(n);
  if (o.everyMs === undefined) return n;
  while (!o.signal.aborted) {
    // An abort rejects the sleep; that is the stop, not an error.
    await sleep(Math.max(0, started + o.everyMs - Date.now()), undefined, { signal: o.signal }).catch(() => undefined);
    if (o.signal.aborted) break;
    n++;
    started = Date.now();
    await round(n).catch((e: unknown) => o.onError(e, n));
  }
  return n;
}

/** `n` records in `ms` as a rate, for report lines. */
export const perSecond = (n: number, ms: number): number => Math.round(n / Math.max(ms / 1000, 0.001));
