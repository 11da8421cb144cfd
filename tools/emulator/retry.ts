/**
 * The parts of retrying a failed invocation as the event source mapping does, for the delivery
 * loop (delivery.ts): capped exponential backoff with jitter, a wait that can be stopped, which
 * errors no retry can fix, and the final failure wrapped with its cause.
 */
import { QuotesSinkError } from '../../lib/errors';

export interface RetryOptions {
  /** Invocations of one event before giving up; `'forever'` is the mapping's default (-1 in AWS). */
  attempts: number | 'forever';
  /** The first wait; each further wait doubles, up to `capMs`. */
  baseMs: number;
  capMs: number;
}

/** Every attempt allowed failed; `cause` is the last attempt's error. */
export class RetriesExhaustedError extends QuotesSinkError {
  constructor(
    readonly attempts: number,
    cause: Error,
  ) {
    super(`gave up after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${cause.message}`, { cause });
  }
}

/** A wait was stopped by its signal, whose reason was not an Error. */
export class RetryAbortedError extends QuotesSinkError {
  constructor(reason: unknown) {
    super(`retry aborted: ${String(reason)}`);
  }
}

/** `e` as an Error, so that only Errors are ever thrown or passed on. */
export const asError = (e: unknown): Error => (e instanceof Error ? e : new Error(String(e)));

const abortReason = (signal: AbortSignal): Error =>
  signal.reason instanceof Error ? signal.reason : new RetryAbortedError(signal.reason);

/**
 * Whether doing the same again can help. Programming errors (TypeError, ReferenceError) cannot,
 * nor can errors that say so themselves (`retriable: false`, as QuotesSinkError and kafkajs's
 * errors carry it, e.g. InvalidEventError). Anything else, such as a store outage, may.
 */
export function isRetriable(e: Error): boolean {
  if (e instanceof TypeError || e instanceof ReferenceError) return false;
  return (e as { retriable?: unknown }).retriable !== false;
}

/** The wait after failed attempt `attempt`: exponential, capped, with 50-100 % jitter. */
export function backoffMs(attempt: number, opts: Pick<RetryOptions, 'baseMs' | 'capMs'>, random = Math.random): number {
  return Math.round(Math.min(opts.capMs, opts.baseMs * 2 ** (attempt - 1)) * (0.5 + random() / 2));
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it is aborted. */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortReason(signal));
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortReason(signal as AbortSignal));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
