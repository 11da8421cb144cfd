/**
 * Batching like the Lambda event source mapping: records from any partition gather into one
 * event until it holds `batchSize` records, `windowMs` has passed since its first record, or the
 * next record would push it past the invoke payload limit, whichever comes first.
 */
import type { KafkaEventRecord } from '../../lib/event/types';

/** Lambda's synchronous invocation payload limit: 6 MB (6 MiB), request and response alike. */
export const INVOKE_PAYLOAD_LIMIT = 6 * 1024 * 1024;

/** What the collector lets an event's records reach: the limit less room for the envelope. */
export const MAX_EVENT_BYTES = INVOKE_PAYLOAD_LIMIT - 64 * 1024;

export interface CollectorOptions {
  batchSize: number;
  windowMs: number;
  maxEventBytes?: number;
}

/** Sends one event's records; resolves when the handler succeeded, rejects when delivery gave up. */
export type Dispatch = (records: KafkaEventRecord[]) => Promise<void>;

/**
 * A record's share of the event's JSON, over-estimated without serialising it: a header name may
 * need escaping (up to 6 characters each), a signed byte takes at most 5 (`-128,`).
 */
export function recordBytes(r: KafkaEventRecord): number {
  let headerBytes = 0;
  for (const h of r.headers) for (const [k, v] of Object.entries(h)) headerBytes += k.length * 6 + 8 + v.length * 5;
  return 220 + r.topic.length + (r.key?.length ?? 0) + (r.value?.length ?? 0) + headerBytes;
}

interface Pending {
  records: KafkaEventRecord[];
  bytes: number;
  timer?: NodeJS.Timeout;
  done: Promise<void>;
  resolve: () => void;
  reject: (e: unknown) => void;
}

/**
 * Gathers records into events and dispatches each once it closes. One event at a time is open;
 * events already dispatched run concurrently (each holds other partitions' records).
 */
export class EventCollector {
  private pending?: Pending;
  private closed?: Error;
  private readonly maxBytes: number;
  /** Events dispatched and not yet settled. */
  inFlight = 0;

  constructor(
    private readonly opts: CollectorOptions,
    private readonly dispatch: Dispatch,
  ) {
    this.maxBytes = opts.maxEventBytes ?? MAX_EVENT_BYTES;
  }

  /** Records waiting for their event to close. */
  get waiting(): number {
    return this.pending?.records.length ?? 0;
  }

  private open(): Pending {
    let resolve!: () => void;
    let reject!: (e: unknown) => void;
    const done = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    done.catch(() => undefined); // observed by add(); avoid an unhandled rejection in between
    return { records: [], bytes: 0, done, resolve, reject };
  }

  /** Whether one more record of `size` bytes may join `p` (a lone record always may: see the emulator). */
  private fits(p: Pending, size: number): boolean {
    return p.records.length < this.opts.batchSize && p.bytes + size <= this.maxBytes;
  }

  private flush(): void {
    const p = this.pending;
    if (!p || p.records.length === 0) return;
    this.pending = undefined;
    if (p.timer) clearTimeout(p.timer);
    this.inFlight++;
    this.dispatch(p.records)
      .then(p.resolve, p.reject)
      .finally(() => this.inFlight--);
  }

  /**
   * Adds one partition's records, in order. Resolves once every event holding any of them was
   * handled successfully (so the caller may commit), rejects if one was given up on.
   */
  add(records: KafkaEventRecord[]): Promise<void> {
    if (this.closed) return Promise.reject(this.closed);
    const waits = new Set<Promise<void>>();
    for (const r of records) {
      const size = recordBytes(r);
      if (this.pending && !this.fits(this.pending, size)) this.flush();
      this.pending ??= this.open();
      this.pending.records.push(r);
      this.pending.bytes += size;
      waits.add(this.pending.done);
    }
    const p = this.pending;
    if (p && p.records.length >= this.opts.batchSize) this.flush();
    else if (p && !p.timer) p.timer = setTimeout(() => this.flush(), this.opts.windowMs);
    return Promise.all(waits).then(() => undefined);
  }

  /**
   * Stops collecting: the open event is not dispatched and its records' add() calls reject with
   * `reason` (so their partitions are not committed); later add() calls reject at once. Events
   * already dispatched are left to settle.
   */
  close(reason: Error): void {
    this.closed ??= reason;
    const p = this.pending;
    this.pending = undefined;
    if (p?.timer) clearTimeout(p.timer);
    p?.reject(reason);
  }
}
