/**
 * The Kafka event source mapping, locally: a kafkajs consumer group reads the topic, records are
 * batched into AWS-shaped events (./collector.ts), the function is invoked, and offsets are
 * committed only after it succeeded (at-least-once). A failed event is retried with backoff
 * (./retry.ts); its partitions do not advance meanwhile, other partitions go on.
 *
 * An object in the manner of the kafkajs Runner: `start()`, `stop(reason)`, `status()`, and `done`.
 * The Kafka client and the invoker are passed in; process signals are the CLI's business.
 */
import type { Admin, Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import { QuotesSinkError } from '../../lib/errors';
import { buildEvent, fromKafkaMessage, type EventShape } from './event';
import { formatCoordinates, partitionKey } from '../../lib/event/coordinates';
import type { KafkaEventRecord } from '../../lib/event/types';
import type { Logger } from '../../lib/log';
import { EventCollector, INVOKE_PAYLOAD_LIMIT, MAX_EVENT_BYTES, recordBytes } from './collector';
import { Delivery, type FailurePolicy } from './delivery';
import type { Invoker } from './invoke';
import { Positions } from './positions';
import { asError, type RetryOptions } from './retry';
import { startOffsets } from './start';
import {
  lagOf,
  StatusAccumulator,
  type EmulatorStatus,
  type EventReport,
  type RetentionGap,
  type Watermarks,
} from './status';

export type { EmulatorStatus } from './status';

/** TRIM_HORIZON (earliest), LATEST or AT_TIMESTAMP: where a group with no committed offset starts. */
export type StartingPosition = 'TRIM_HORIZON' | 'LATEST' | 'AT_TIMESTAMP';

/**
 * Run until every partition is caught up for `idleMs`, or, with `drained`, as soon as every
 * partition is drained to the end offsets last seen once records were handled (`idleMs` still
 * applies while none were, so records produced after start-up are waited for); or until
 * {@link Emulator.stop} is called.
 */
export type StopWhen = { idleMs: number; drained?: boolean } | 'signal';

export interface EmulatorOptions {
  /** The kafkajs client (only its consumer and admin are used). */
  kafka: Pick<Kafka, 'consumer' | 'admin'>;
  invoke: Invoker;
  log: Pick<Logger, 'info' | 'warn' | 'error'>;
  topic: string;
  groupId: string;
  /** The events' `bootstrapServers`: one comma-separated string. */
  bootstrapServers: string;
  startingPosition: StartingPosition;
  /** With AT_TIMESTAMP: epoch milliseconds (the mapping's StartingPositionTimestamp × 1000). */
  startingTimestampMs?: number;
  /** Filters, maximum record age, bisect, partial batch responses, destination (default: none of them). */
  policy?: Partial<FailurePolicy>;
  batchSize: number;
  windowMs: number;
  source: EventShape;
  retry: RetryOptions;
  stopWhen: StopWhen;
  /** kafkajs fetch limits: bytes per fetch and per partition (memory against read-ahead). */
  fetchMaxBytes?: number;
  partitionFetchMaxBytes?: number;
  /** How stale kafkajs's metadata may get: partitions added to the topic are read within about this. */
  metadataMaxAgeMs?: number;
  /** Called about every `statusEveryMs` (default 2 s) with the running totals. */
  onStatus?: (s: EmulatorStatus) => void;
  statusEveryMs?: number;
  /** Applied to each fetched batch's records before they are collected (and filtered): a schema registry's decoding. */
  decode?: (records: KafkaEventRecord[]) => Promise<KafkaEventRecord[]>;
}

export const DEFAULT_FETCH_MAX_BYTES = 32 * 1024 * 1024;
export const DEFAULT_PARTITION_FETCH_MAX_BYTES = 8 * 1024 * 1024;
/** kafkajs's default is 5 minutes, so a partition added to the topic went unread that long. */
export const DEFAULT_METADATA_MAX_AGE_MS = 3_000;
/** Workers for partitions consumed at once: room for partitions added while running. */
const MIN_CONCURRENCY = 16;

/** The emulator was asked to stop: work not yet invoked is dropped, nothing more is committed. */
export class EmulatorStoppedError extends QuotesSinkError {
  constructor(readonly reason: string) {
    super(`emulator stopping (${reason})`);
  }
}

/**
 * An event would be over Lambda's invoke payload limit even alone: one record too large. AWS
 * cannot invoke the function with it either (the invoke fails with RequestEntityTooLarge, and the
 * mapping retries and then sends the batch to its on-failure destination, if any). Locally no retry
 * can help and there is no such destination, so the emulator stops with this error, never invokes
 * with the event, and commits nothing from that record on: its partition stays where it was.
 */
export class EventTooLargeError extends QuotesSinkError {
  constructor(
    readonly bytes: number,
    readonly record: KafkaEventRecord,
  ) {
    super(
      `record ${formatCoordinates(record)} makes an event of ${bytes} bytes, over Lambda's ${INVOKE_PAYLOAD_LIMIT}-byte ` +
        'invoke payload limit: the event source mapping cannot invoke the function with it',
    );
  }
}

type State = 'new' | 'running' | 'stopping' | 'stopped';

/**
 * The local event source mapping for one topic and consumer group.
 *
 * @example
 * const emulator = new Emulator({ kafka, invoke, log, topic, groupId, ... });
 * process.once('SIGTERM', () => emulator.stop('SIGTERM'));
 * const status = await emulator.run(); // or start(), later stop(reason), then await done
 */
export class Emulator {
  private readonly consumer: Consumer;
  private readonly admin: Admin;
  private readonly collector: EventCollector;
  private readonly delivery: Delivery;
  private readonly stats = new StatusAccumulator();
  private readonly aborter = new AbortController();
  private positions = new Positions();
  private state: State = 'new';
  private fatal?: Error;
  private timer?: NodeJS.Timeout;
  private ticking = false;
  private starting?: Promise<void>;
  private idleSince?: number;
  private lastReport = Date.now();
  private requestStop!: () => void;
  private readonly stopRequested = new Promise<void>((resolve) => (this.requestStop = resolve));
  private settle!: { resolve: (s: EmulatorStatus) => void; reject: (e: Error) => void };
  /** Settles once stopped and disconnected: the final status, or the error that stopped it. */
  readonly done: Promise<EmulatorStatus>;

  constructor(private readonly o: EmulatorOptions) {
    this.done = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
    this.done.catch(() => undefined); // the caller observes it; no unhandled rejection meanwhile
    this.admin = o.kafka.admin();
    this.consumer = o.kafka.consumer({
      groupId: o.groupId,
      // Short, so a killed emulator's partitions are handed to its successor within seconds.
      sessionTimeout: 10_000,
      heartbeatInterval: 3_000,
      maxBytesPerPartition: o.partitionFetchMaxBytes ?? DEFAULT_PARTITION_FETCH_MAX_BYTES,
      maxBytes: o.fetchMaxBytes ?? DEFAULT_FETCH_MAX_BYTES,
      maxWaitTimeInMs: 200,
      allowAutoTopicCreation: false,
      // kafkajs notices new partitions (and rejoins the group to get them) only on a metadata refresh.
      metadataMaxAge: o.metadataMaxAgeMs ?? DEFAULT_METADATA_MAX_AGE_MS,
    });
    this.collector = new EventCollector({ batchSize: o.batchSize, windowMs: o.windowMs }, (records) =>
      this.delivery.deliver(records),
    );
    this.delivery = this.createDelivery();
  }

  private createDelivery(): Delivery {
    const o = this.o;
    return new Delivery({
      filters: [],
      bisect: false,
      reportBatchItemFailures: false,
      ...o.policy,
      invoke: o.invoke,
      event: (records) => {
        const event = buildEvent(o.source, o.bootstrapServers, records);
        assertInvokable(event, records);
        return event;
      },
      retry: o.retry,
      signal: this.aborter.signal,
      hooks: {
        done: (n, summary) => this.stats.eventDone(summary ?? unreported(n)),
        retried: (attempt, err, delayMs, n) => {
          this.stats.retried();
          o.log.warn({ attempt, delayMs, err }, `invoke failed, retrying ${n} records`);
        },
        filtered: (n) => this.stats.filtered(n),
        sentToDestination: (b) => {
          this.stats.sentToDestination(b.records.length);
          o.log.warn(
            {
              condition: b.condition,
              records: b.records.length,
              destination: o.policy?.destination?.uri,
              err: b.error,
            },
            `${b.records.length} records sent to the on-failure destination (${b.condition}); their partitions move on`,
          );
        },
        dropped: (n, condition) => {
          this.stats.dropped(n);
          o.log.warn(
            { condition, records: n },
            `${n} records skipped (${condition}) with no destination: AWS loses them`,
          );
        },
      },
    });
  }

  /** Connects and starts consuming. Rejects (and so does `done`) if that fails. */
  async start(): Promise<void> {
    if (this.state !== 'new') return;
    this.state = 'running';
    this.starting = this.connect();
    void this.stopRequested.then(() => this.shutdown());
    try {
      await this.starting;
    } catch (e) {
      const err = asError(e);
      this.fail(err);
      throw err;
    }
    const every = this.o.stopWhen === 'signal' ? (this.o.statusEveryMs ?? 2_000) : 250;
    this.timer = setInterval(() => void this.tick(), every);
  }

  private async connect(): Promise<void> {
    await this.admin.connect();
    await this.openDestination();
    let [marks, committed] = await this.offsets();
    if (await this.placeNewGroup(marks, committed)) [marks, committed] = await this.offsets();
    this.positions = new Positions(committed);
    const recreated = this.positions.recreated(marks);
    if (recreated.length) {
      this.warnRecreated(recreated);
      const partitions = recreated.map((m) => ({ partition: m.partition, offset: String(m.low) }));
      await this.admin.setOffsets({ groupId: this.o.groupId, topic: this.o.topic, partitions });
      [marks] = await this.offsets();
    }
    await this.consumer.connect();
    this.consumer.on(this.consumer.events.CRASH, ({ payload }) => {
      if (!payload.restart) this.fail(payload.error);
    });
    // Every partition there is now has a committed offset (a new group's were placed above), so
    // kafkajs's reset applies only to partitions added to the topic later, and to offsets that
    // retention deleted. StartingPosition is set once, at creation (AWS: "Can set only on Create",
    // https://docs.aws.amazon.com/lambda/latest/dg/msk-esm-parameters.html), and LATEST means "just
    // after the most recent record" at that time
    // (https://docs.aws.amazon.com/lambda/latest/dg/kafka-starting-positions.html): every record of
    // a partition added since came after it, so such a partition is read from its beginning. AWS
    // documents nothing more specific for added partitions; kafkajs's own reset to "latest" would
    // skip what was produced to them before it noticed them (Kafka's docs warn of exactly that).
    await this.consumer.subscribe({ topic: this.o.topic, fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: Math.max(marks.length, MIN_CONCURRENCY),
      eachBatch: (payload) => this.handleBatch(payload),
    });
  }

  /** Gets the on-failure destination ready (a Kafka topic is created or checked) and says what it found. */
  private async openDestination(): Promise<void> {
    const d = this.o.policy?.destination;
    const ready = await d?.open?.();
    for (const line of ready?.info ?? []) this.o.log.info({ destination: d?.uri }, line);
    for (const line of ready?.warn ?? []) this.o.log.warn({ destination: d?.uri }, line);
  }

  /**
   * A group with no committed offset starts where the starting position says: its offsets are
   * committed before it joins, so that lag counts from there (LATEST: nothing is lag yet).
   */
  private async placeNewGroup(marks: Watermarks[], committed: Map<number, number>): Promise<boolean> {
    if (this.o.startingPosition === 'TRIM_HORIZON' || [...committed.values()].some((o) => o >= 0)) return false;
    const partitions = await startOffsets(
      this.admin,
      this.o.topic,
      marks,
      this.o.startingPosition,
      this.o.startingTimestampMs,
    );
    await this.admin.setOffsets({ groupId: this.o.groupId, topic: this.o.topic, partitions });
    this.o.log.info({ startingPosition: this.o.startingPosition, partitions }, 'new consumer group placed');
    return true;
  }

  /** Starts, then waits until stopped: the final status. */
  async run(): Promise<EmulatorStatus> {
    await this.start();
    return this.done;
  }

  /**
   * Begins stopping: backoff waits end at once, records not yet invoked are dropped, and nothing
   * more is committed, except a fetched batch whose last invocation, under way, then succeeds.
   * Idempotent; `done` settles once everything is released.
   */
  stop(reason: string): void {
    if (this.state === 'stopping' || this.state === 'stopped') return;
    const never = this.state === 'new';
    this.state = 'stopping';
    this.o.log.info({ why: reason }, 'stopping: letting invocations under way finish, committing nothing else');
    const stopped = new EmulatorStoppedError(reason);
    this.aborter.abort(stopped);
    this.collector.close(stopped);
    if (never) this.finish();
    else this.requestStop();
  }

  /** The running totals. */
  status(): EmulatorStatus {
    return this.stats.snapshot();
  }

  private fail(e: Error): void {
    this.fatal ??= e;
    this.stop(`failed: ${e.message}`);
  }

  /** Committed offsets and watermarks of the topic, by partition. */
  private async offsets(): Promise<[Watermarks[], Map<number, number>]> {
    const [topicOffsets, groupOffsets] = await Promise.all([
      this.admin.fetchTopicOffsets(this.o.topic),
      this.admin.fetchOffsets({ groupId: this.o.groupId, topics: [this.o.topic] }),
    ]);
    const marks = topicOffsets.map((p) => ({ partition: p.partition, low: Number(p.low), high: Number(p.high) }));
    const committed = new Map(groupOffsets[0]?.partitions.map((p) => [p.partition, Number(p.offset)]) ?? []);
    return [marks, committed];
  }

  private async handleBatch({ batch, resolveOffset, heartbeat, isRunning }: EachBatchPayload): Promise<void> {
    if (this.state !== 'running' || !isRunning() || batch.isEmpty()) return;
    const { topic, partition } = batch;
    this.positions.begin(partition);
    const beat = setInterval(() => heartbeat().catch(() => undefined), 2_000);
    try {
      // A re-created topic's records from our old position on: read it from its beginning instead.
      if (await this.checkRecreated(partition)) return;
      await this.checkRetention(partition, Number(batch.firstOffset()));
      if (!(await this.deliver(topic, partition, batch.messages))) return;
      const last = batch.lastOffset();
      resolveOffset(last);
      const next = Number(last) + 1;
      await this.consumer.commitOffsets([{ topic, partition, offset: String(next) }]);
      this.positions.advance(partition, next);
    } finally {
      clearInterval(beat);
      this.positions.end(partition);
    }
  }

  /**
   * Adds a fetched batch's records to events, one batch-size slice at a time: a partition has at
   * most one slice in flight, as with the mapping. True once all were handled; false if stopped.
   */
  private async deliver(topic: string, partition: number, messages: KafkaMessage[]): Promise<boolean> {
    const fetched = messages.map((m) => fromKafkaMessage(topic, partition, m));
    try {
      const records = this.o.decode ? await this.o.decode(fetched) : fetched;
      for (let i = 0; i < records.length; i += this.o.batchSize) {
        if (this.state !== 'running') return false;
        await this.collector.add(records.slice(i, i + this.o.batchSize));
      }
      return true;
    } catch (e) {
      if (!(e instanceof EmulatorStoppedError)) this.fail(asError(e));
      return false;
    }
  }

  /**
   * Before a batch of `partition` is delivered: was the topic re-created under us (our committed
   * offset is gone)? Then the new topic restarts from its beginning and this batch is dropped (the
   * seek fetches it again). Checked per fetched batch, not only on the status tick, because once
   * a batch of the new topic is committed nothing shows any more that its first records were skipped.
   */
  private async checkRecreated(partition: number): Promise<boolean> {
    if (this.positions.of(partition) === undefined) return false;
    const readAt = this.positions.mark();
    const found = await this.offsets().catch(() => undefined); // the broker briefly away: the tick looks again
    if (!found) return false;
    const [marks, committed] = found;
    const recreated = this.positions.recreated(marks, committed, partition, readAt);
    if (recreated.length) await this.restartRecreated(recreated);
    return recreated.some((m) => m.partition === partition);
  }

  /** Commits and seeks the re-created partitions at the new topic's beginning, and says so. */
  private async restartRecreated(recreated: Watermarks[]): Promise<void> {
    this.warnRecreated(recreated);
    const { topic } = this.o;
    await this.consumer.commitOffsets(recreated.map((m) => ({ topic, partition: m.partition, offset: String(m.low) })));
    for (const m of recreated) this.consumer.seek({ topic, partition: m.partition, offset: String(m.low) });
  }

  /** A batch starting past our position may follow a reset over deleted offsets: count the gap. */
  private async checkRetention(partition: number, firstOffset: number): Promise<void> {
    const at = this.positions.of(partition);
    if (at === undefined || firstOffset <= at) return;
    const marks = await this.offsets().then(
      ([m]) => m,
      () => [], // the broker may be briefly away: the status tick looks again
    );
    for (const gap of this.positions.gaps(marks, partition)) this.lost(gap);
  }

  private lost(gap: RetentionGap): void {
    this.stats.lost(gap);
    this.o.log.warn(
      { retentionGap: { topic: this.o.topic, ...gap, offsets: gap.to - gap.from } },
      `retention deleted offsets ${gap.from}..${gap.to - 1} of ${partitionKey({ topic: this.o.topic, partition: gap.partition })} before they were consumed; resuming at ${gap.to}`,
    );
  }

  /** Refreshes lag and retention gaps, reports the status, and stops once idle (if asked to). */
  private async tick(): Promise<void> {
    if (this.ticking || this.state !== 'running') return;
    this.ticking = true;
    try {
      await this.refresh();
    } catch {
      return; // the broker may be briefly away; the next tick tries again
    } finally {
      this.ticking = false;
    }
    const now = Date.now();
    if (this.o.onStatus && now - this.lastReport >= (this.o.statusEveryMs ?? 2_000)) {
      this.lastReport = now;
      this.o.onStatus(this.stats.tick());
    }
    if (this.o.stopWhen !== 'signal') this.stopIfIdle(now, this.o.stopWhen);
  }

  private async refresh(): Promise<void> {
    const readAt = this.positions.mark();
    const [marks, committed] = await this.offsets();
    const recreated = this.state === 'running' ? this.positions.recreated(marks, committed, undefined, readAt) : [];
    if (recreated.length) await this.restartRecreated(recreated);
    // A committed offset past the end belongs to a deleted topic: the group starts over at the beginning.
    const high = new Map(marks.map((m) => [m.partition, m.high]));
    const at = new Map([...committed].map(([p, o]) => [p, o > (high.get(p) ?? Infinity) ? -1 : o]));
    this.stats.setLag(lagOf(this.o.topic, marks, at));
    for (const gap of this.positions.gaps(marks)) this.lost(gap);
  }

  /** The topic was deleted and created again: say so (the group starts over at its beginning). */
  private warnRecreated(marks: Watermarks[]): void {
    this.stats.recreated(marks.length);
    this.o.log.warn(
      { topicRecreated: { topic: this.o.topic, partitions: marks.map((m) => m.partition) } },
      `${this.o.topic} was re-created (the group's committed offset is gone or past the end in partition ${marks.map((m) => m.partition).join(', ')}): starting from the new topic's beginning`,
    );
  }

  private stopIfIdle(now: number, { idleMs, drained }: { idleMs: number; drained?: boolean }): void {
    const lag = Object.values(this.stats.snapshot().lag);
    const caughtUp = lag.every((l) => l === 0) && this.collector.waiting === 0 && this.collector.inFlight === 0;
    if (!caughtUp) this.idleSince = undefined;
    // Drained: every record up to the end offsets the tick just read is handled and committed.
    else if (drained && this.stats.snapshot().records > 0) this.stop('idle: every partition drained to its end offset');
    else if (this.idleSince === undefined) this.idleSince = now;
    else if (now - this.idleSince >= idleMs) this.stop('idle: every partition caught up');
  }

  /** Waits for the batches under way, leaves the group, releases the invoker, settles `done`. */
  private async shutdown(): Promise<void> {
    await this.starting?.catch(() => undefined); // a stop during start-up waits for it, then undoes it
    clearInterval(this.timer);
    await this.consumer.disconnect().catch(() => undefined);
    await this.refresh().catch(() => undefined);
    await this.admin.disconnect().catch(() => undefined);
    await this.o.invoke.close?.().catch((err: unknown) => this.o.log.warn({ err }, 'closing the invoker failed'));
    this.finish();
  }

  private finish(): void {
    this.state = 'stopped';
    if (this.fatal) this.settle.reject(this.fatal);
    else this.settle.resolve(this.stats.snapshot());
  }
}

/** What an event is counted as when the function reported no summary: received, nothing known written. */
const unreported = (received: number): EventReport => ({
  received,
  stores: {},
  deadLettered: { written: 0, alreadyPresent: 0, byKind: {} },
  tombstones: { received: 0, deleted: 0 },
});

/**
 * Throws {@link EventTooLargeError} if `event` is over the invoke payload limit. The collector keeps
 * every event of several records under it (its estimate is an upper bound), so only an event of one
 * large record is serialised to measure it.
 */
function assertInvokable(event: object, records: KafkaEventRecord[]): void {
  const estimate = records.reduce((n, r) => n + recordBytes(r), 0);
  if (estimate <= MAX_EVENT_BYTES) return;
  const bytes = Buffer.byteLength(JSON.stringify(event));
  if (bytes > INVOKE_PAYLOAD_LIMIT) throw new EventTooLargeError(bytes, records[0]);
}
