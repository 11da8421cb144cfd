/**
 * What the event source mapping does with one batch, as configured: filter it, send records older
 * than the maximum record age to the destination, invoke the function, and on failure retry (from
 * the lowest failed offset per partition with a partial batch response), bisect, and finally hand
 * the batch to the on-failure destination. Rules from
 * https://docs.aws.amazon.com/lambda/latest/dg/kafka-retry-configurations.html.
 */
import { partitionKey } from '../../lib/event/coordinates';
import type { KafkaEvent, KafkaEventRecord } from '../../lib/event/types';
import type { BatchSummary } from '../../lib/sink/batch';
import type { FailedBatch, FailureCondition, FailureDestination } from './destination';
import { passesFilters, type FilterPattern } from './filter';
import { isSummary, ItemFailuresError, type FunctionResponse, type Invoker } from './invoke';
import { abortableSleep, asError, backoffMs, isRetriable, RetriesExhaustedError, type RetryOptions } from './retry';

/** The mapping's error handling and filtering, as the emulator applies them. */
export interface FailurePolicy {
  filters: FilterPattern[];
  /** Records older than this are not invoked but sent to the destination; undefined = no limit. */
  maxRecordAgeMs?: number;
  bisect: boolean;
  /** FunctionResponseTypes has ReportBatchItemFailures: partial batch responses are honoured. */
  reportBatchItemFailures: boolean;
  destination?: FailureDestination;
}

/** What the delivery reports as it goes. */
export interface DeliveryHooks {
  /** Records handled by the function (summary undefined when it reported none). */
  done(records: number, summary?: BatchSummary): void;
  retried(attempt: number, err: Error, delayMs: number, records: number): void;
  filtered(records: number): void;
  sentToDestination(batch: FailedBatch): void;
  /** Records given up on with no destination to keep them (AWS skips them: they are lost). */
  dropped(records: number, condition: FailureCondition): void;
}

export interface DeliveryOptions extends FailurePolicy {
  invoke: Invoker;
  /** Builds (and checks) the event for some records. */
  event: (records: KafkaEventRecord[]) => KafkaEvent;
  retry: RetryOptions;
  signal: AbortSignal;
  hooks: DeliveryHooks;
  now?: () => number;
}

/**
 * The records to retry after a partial batch response: per partition, those from the lowest failed
 * offset on (the records before it are done). Undefined when an identifier is malformed or names
 * no record of the batch: then the whole batch is retried, as AWS does.
 */
export function retryFrom(
  records: readonly KafkaEventRecord[],
  failures: readonly unknown[],
): KafkaEventRecord[] | undefined {
  const lowest = new Map<string, number>();
  for (const f of failures) {
    const id = identifierOf(f);
    if (!id || !records.some((r) => partitionKey(r) === id.key && r.offset === id.offset)) return undefined;
    lowest.set(id.key, Math.min(lowest.get(id.key) ?? Infinity, id.offset));
  }
  return records.filter((r) => r.offset >= (lowest.get(partitionKey(r)) ?? Infinity));
}

/** `{itemIdentifier: {"topic-partition", offset}}` read leniently (the offset may come as a string). */
function identifierOf(f: unknown): { key: string; offset: number } | undefined {
  const id = (f as { itemIdentifier?: Record<string, unknown> } | null)?.itemIdentifier;
  const key = id?.['topic-partition'];
  const raw = id?.offset;
  const offset = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
  if (typeof key !== 'string' || typeof offset !== 'number' || !Number.isInteger(offset)) return undefined;
  return { key, offset };
}

/** Splits `records` into those within the maximum age and those older. */
export function byAge(
  records: KafkaEventRecord[],
  maxAgeMs: number | undefined,
  now: number,
): [KafkaEventRecord[], KafkaEventRecord[]] {
  if (maxAgeMs === undefined) return [records, []];
  const fresh = records.filter((r) => now - r.timestamp <= maxAgeMs);
  return [fresh, records.filter((r) => now - r.timestamp > maxAgeMs)];
}

/** One invocation's outcome: records still to do (empty when done) and the error, if it failed. */
interface Outcome {
  left: KafkaEventRecord[];
  error?: Error;
}

/** Delivers batches under a {@link FailurePolicy}; one instance per emulator. */
export class Delivery {
  constructor(private readonly o: DeliveryOptions) {}

  /** Resolves once the batch is done (invoked, or kept by the destination); rejects when it gave up. */
  async deliver(records: KafkaEventRecord[]): Promise<void> {
    const passed = records.filter((r) => passesFilters(this.o.filters, r));
    if (passed.length < records.length) this.o.hooks.filtered(records.length - passed.length);
    const [fresh, old] = byAge(passed, this.o.maxRecordAgeMs, (this.o.now ?? Date.now)());
    if (old.length) await this.giveUp({ records: old, condition: 'RecordAgeExceeded', invokeCount: 0 });
    if (fresh.length) await this.attempt(fresh, 0);
  }

  private exhausted(attempt: number): boolean {
    return this.o.retry.attempts !== 'forever' && attempt >= this.o.retry.attempts;
  }

  /** Invokes with `records` until done, retrying, bisecting, or giving up; `used` attempts came before. */
  private async attempt(records: KafkaEventRecord[], used: number): Promise<void> {
    let pending = records;
    for (let attempt = used + 1; ; attempt++) {
      this.o.signal.throwIfAborted();
      const outcome = await this.invokeOnce(pending);
      if (!outcome.error) return;
      pending = outcome.left;
      const err = outcome.error;
      if (!isRetriable(err)) throw err;
      if (this.exhausted(attempt)) {
        return this.giveUp({ records: pending, condition: 'RetryAttemptsExhausted', invokeCount: attempt, error: err });
      }
      if (this.o.bisect && pending.length > 1 && !(err instanceof ItemFailuresError)) {
        // Each half goes on with the attempts used so far, so bisecting ends within the retry limit.
        const mid = Math.ceil(pending.length / 2);
        await this.attempt(pending.slice(0, mid), attempt);
        return this.attempt(pending.slice(mid), attempt);
      }
      const delay = backoffMs(attempt, this.o.retry);
      this.o.hooks.retried(attempt, err, delay, pending.length);
      await abortableSleep(delay, this.o.signal);
    }
  }

  private async invokeOnce(records: KafkaEventRecord[]): Promise<Outcome> {
    const event = this.o.event(records); // an event too large to invoke fails the emulator, unretried
    let response: FunctionResponse;
    try {
      response = await this.o.invoke(event);
    } catch (e) {
      return { left: records, error: asError(e) };
    }
    if (isSummary(response)) {
      this.o.hooks.done(records.length, response);
      return { left: [] };
    }
    const failures: unknown[] = Array.isArray(response.batchItemFailures) ? response.batchItemFailures : [{}];
    if (failures.length === 0) {
      this.o.hooks.done(records.length);
      return { left: [] };
    }
    const left = (this.o.reportBatchItemFailures && retryFrom(records, failures)) || records;
    if (left.length < records.length) this.o.hooks.done(records.length - left.length);
    return { left, error: new ItemFailuresError(response.batchItemFailures) };
  }

  private async giveUp(batch: FailedBatch): Promise<void> {
    if (this.o.destination) {
      await this.o.destination.send(batch);
      this.o.hooks.sentToDestination(batch);
      return;
    }
    if (batch.condition === 'RecordAgeExceeded') return this.o.hooks.dropped(batch.records.length, batch.condition);
    throw new RetriesExhaustedError(batch.invokeCount, batch.error ?? new Error('invocation failed'));
  }
}
