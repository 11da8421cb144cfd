/**
 * Batching like the Lambda event source mapping: records from any partition gather into one
 * event until it holds `batchSize` records, `windowMs` has passed since its first record, or the
 * next record would push it past the invoke payload limit, whichever comes first.
 */
import type { KafkaEventRecord } from '../event/types';

/** Lambda's synchronous invoke payload limit (6 MB), less room for the event's envelope. */
export const MAX_EVENT_BYTES = 6 * 1024 * 1024 - 64 * 1024;

export interface CollectorOptions {
  batchSize: number;
  windowMs: number;
  maxEventBytes?: number;
}

/** Sends one event's records; resolves when the handler succeeded, rejects when delivery gave up. */
export type Dispatch = (records: KafkaEventRecord[]) => Promise<void>;

/** A record's share of the event's JSON, closely over-estimated without serialising it. */
export function recordBytes(r: KafkaEventRecord): number {
  let headerBytes = 0;
  for (const h of r.headers) for (const [k, v] of Object.entries(h)) headerBytes += k.length + 8 + v.length * 5;
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

export class EventCollector {
  private pending?: Pending;
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

  private flush(): void {
    const p = this.pending;
    if (!p || p.records.length === 0) return;
    this.pending = undefined;
    if (p.timer) clearTimeout(p.timer);
    this.inFlight++;
    this.dispatch(p.records).then(p.resolve, p.reject).finally(() => this.inFlight--);
  }

  /**
   * Adds one partition's records, in order. Resolves once every event holding any of them was
   * handled successfully (so the caller may commit), rejects if one was given up on.
   */
  add(records: KafkaEventRecord[]): Promise<void> {
    const waits = new Set<Promise<void>>();
    for (const r of records) {
      const size = recordBytes(r);
      if (this.pending && (this.pending.records.length >= this.opts.batchSize || this.pending.bytes + size > this.maxBytes)) this.flush();
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
}
