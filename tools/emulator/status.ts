/**
 * The emulator's running totals, kept apart from consumption: what the function reported per
 * event, retries, offsets lost to retention, lag, and the rate over the last status period.
 */
import { STORE_NAMES } from '../../lib/config';
import { partitionKey } from '../../lib/event/coordinates';
import type { BatchSummary } from '../../lib/sink/batch';
import { batchMetrics, METRIC_NAMES } from '../../lib/sink/metrics';
import type { StoreName, WriteCount } from '../../lib/sink/port';

export interface EmulatorStatus {
  events: number;
  records: number;
  /** Records written by each store the function reported, by its name (the built-in ones from the start). */
  written: Record<StoreName, number>;
  alreadyPresent: number;
  deadLettered: number;
  /** Bad records whose dead letter was already there (an earlier run stored it). */
  deadLettersAlreadyPresent: number;
  /** Dead letters written, by error kind (`json`, `schema`, …). */
  deadLettersByKind: Record<string, number>;
  tombstones: number;
  retries: number;
  /** Records that passed none of the mapping's filters: skipped and committed, never invoked. */
  filtered: number;
  /** Records handed to the on-failure destination (retries exhausted, or too old). */
  sentToDestination: number;
  /** Records given up on with no destination (too old): skipped, as AWS does. */
  dropped: number;
  /** Partitions found re-created (their end below the group's offset) and restarted from the beginning. */
  recreatedPartitions: number;
  /** The handler's metrics (its EMF names, lib/sink/metrics.ts; dead letters by kind left out), summed over the run. */
  metrics: Record<string, number>;
  /** Offsets retention deleted before the group consumed them (they can never be delivered). */
  lostToRetention: number;
  /** Records per second over the last status period. */
  rate: number;
  /** `"<topic>-<partition>"` → records not yet committed by the group. */
  lag: Record<string, number>;
  elapsedMs: number;
}

/** What the status needs of a handler's report. */
export type EventReport = Pick<BatchSummary, 'received' | 'stores' | 'deadLettered' | 'tombstones'>;

/**
 * The counts of the store that stands for a batch's records: the first store that wrote or found
 * any (every store writes every record; one may be unused, `SINK_STORES`), else the first one.
 */
export function leadCounts(r: Pick<BatchSummary, 'stores'>): WriteCount {
  const counts = Object.values(r.stores);
  return counts.find((c) => c.written + c.alreadyPresent > 0) ?? counts[0] ?? { written: 0, alreadyPresent: 0 };
}

/** A partition's log range: `low` is the first offset still stored, `high` the next to be written. */
export interface Watermarks {
  partition: number;
  low: number;
  high: number;
}

/** Offsets [from, to) of a partition that retention deleted before the group consumed them. */
export interface RetentionGap {
  partition: number;
  from: number;
  to: number;
}

/**
 * Lag per partition: the high watermark minus where the group stands, the committed offset or,
 * for a partition with none (or one below what retention kept), the low watermark.
 */
export function lagOf(
  topic: string,
  marks: readonly Watermarks[],
  committed: ReadonlyMap<number, number>,
): Record<string, number> {
  const lag: Record<string, number> = {};
  for (const m of marks) {
    const at = Math.max(committed.get(m.partition) ?? -1, m.low);
    lag[partitionKey({ topic, partition: m.partition })] = Math.max(0, m.high - at);
  }
  return lag;
}

const NO_DURATIONS: BatchSummary['durationMs'] = { decode: 0, stores: {}, total: 0 };

/** Accumulates the totals; {@link tick} closes a status period and computes its rate. */
export class StatusAccumulator {
  private readonly started: number;
  private readonly s: EmulatorStatus = {
    events: 0,
    records: 0,
    written: Object.fromEntries(STORE_NAMES.map((n) => [n, 0])),
    alreadyPresent: 0,
    deadLettered: 0,
    deadLettersAlreadyPresent: 0,
    deadLettersByKind: {},
    tombstones: 0,
    retries: 0,
    filtered: 0,
    sentToDestination: 0,
    dropped: 0,
    recreatedPartitions: 0,
    metrics: Object.fromEntries(METRIC_NAMES.map((n) => [n, 0])),
    lostToRetention: 0,
    rate: 0,
    lag: {},
    elapsedMs: 0,
  };
  private periodStart: number;
  private periodRecords = 0;

  constructor(private readonly now: () => number = Date.now) {
    this.started = now();
    this.periodStart = this.started;
  }

  /** One event the function handled successfully. */
  eventDone(r: EventReport): void {
    this.s.events++;
    this.s.records += r.received;
    for (const [store, c] of Object.entries(r.stores)) this.s.written[store] = (this.s.written[store] ?? 0) + c.written;
    this.s.alreadyPresent += leadCounts(r).alreadyPresent;
    this.s.deadLettered += r.deadLettered.written;
    this.s.deadLettersAlreadyPresent += r.deadLettered.alreadyPresent;
    for (const [kind, n] of Object.entries(r.deadLettered.byKind)) {
      this.s.deadLettersByKind[kind] = (this.s.deadLettersByKind[kind] ?? 0) + n;
    }
    this.s.tombstones += r.tombstones.received;
    this.addMetrics(r);
  }

  /** Sums the handler's metrics; a report without durations (none from the function) adds counts only. */
  private addMetrics(r: EventReport): void {
    const full =
      'durationMs' in r
        ? batchMetrics(r as BatchSummary)
        : batchMetrics({ ...(r as BatchSummary), durationMs: NO_DURATIONS });
    // The built-in stores' names come first (the status starts with them); another store's join as seen.
    for (const [name, n] of Object.entries(full)) {
      if (!name.startsWith('DeadLetters_')) this.s.metrics[name] = (this.s.metrics[name] ?? 0) + n;
    }
  }

  /** Records skipped by the filters. */
  filtered(n: number): void {
    this.s.filtered += n;
  }

  /** Records sent to the on-failure destination. */
  sentToDestination(n: number): void {
    this.s.sentToDestination += n;
  }

  /** Partitions restarted after the topic was re-created. */
  recreated(n: number): void {
    this.s.recreatedPartitions += n;
  }

  /** Records skipped for their age, with no destination. */
  dropped(n: number): void {
    this.s.dropped += n;
  }

  /** One failed invocation that will be retried. */
  retried(): void {
    this.s.retries++;
  }

  /** Offsets skipped because retention deleted them first. */
  lost(gap: RetentionGap): void {
    this.s.lostToRetention += gap.to - gap.from;
  }

  /** The latest lag per partition. */
  setLag(lag: Record<string, number>): void {
    this.s.lag = lag;
  }

  /** Ends the current status period: the rate becomes the records per second handled in it. */
  tick(): EmulatorStatus {
    const now = this.now();
    this.s.rate = Math.round(((this.s.records - this.periodRecords) * 1000) / Math.max(1, now - this.periodStart));
    this.periodStart = now;
    this.periodRecords = this.s.records;
    return this.snapshot();
  }

  /** A copy of the totals now. */
  snapshot(): EmulatorStatus {
    return { ...structuredClone(this.s), elapsedMs: this.now() - this.started };
  }
}

/** `a` plus `b`, key by key (counts by store, kind, metric or partition). */
function addCounts(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const sum = { ...a };
  for (const [k, n] of Object.entries(b)) sum[k] = (sum[k] ?? 0) + n;
  return sum;
}

/**
 * The totals of several mappings' statuses (one per route) as one: counts, rates and lag added
 * (lag is keyed by topic and partition, so it never overlaps), the longest run's time.
 */
export function mergeStatuses(statuses: readonly EmulatorStatus[]): EmulatorStatus {
  if (statuses.length === 1) return statuses[0];
  const [first, ...rest] = statuses;
  return rest.reduce<EmulatorStatus>((sum, s) => {
    const out = { ...sum };
    for (const [k, v] of Object.entries(s) as [keyof EmulatorStatus, unknown][]) {
      if (k === 'elapsedMs') out.elapsedMs = Math.max(sum.elapsedMs, s.elapsedMs);
      else if (typeof v === 'number') (out[k] as number) = (sum[k] as number) + v;
      else
        (out[k] as Record<string, number>) = addCounts(sum[k] as Record<string, number>, v as Record<string, number>);
    }
    return out;
  }, structuredClone(first));
}
