/**
 * The Kafka event source mapping, locally: a kafkajs consumer group reads the topic, records are
 * batched into AWS-shaped events (lib/emulator/collector.ts), the function is invoked, and offsets
 * are committed only after it succeeded (at-least-once). A failed event is retried with backoff;
 * its partitions do not advance meanwhile, other partitions go on.
 */
import type { Consumer, KafkaMessage } from 'kafkajs';
import type { Config } from '../config';
import { buildEvent, toEventRecord } from '../event/build';
import { createKafka } from '../kafka';
import type { Logger } from '../log';
import type { BatchSummary } from '../sink/batch';
import { EventCollector } from './collector';
import { withRetry, type Invoker, type RetryOptions } from './invoke';

export interface EmulatorOptions {
  config: Config;
  topic: string;
  groupId: string;
  /** TRIM_HORIZON (earliest) or LATEST, for a group with no committed offsets. */
  startingPosition: 'TRIM_HORIZON' | 'LATEST';
  batchSize: number;
  windowMs: number;
  source: 'msk' | 'self-managed';
  invoke: Invoker;
  retry: RetryOptions;
  /** Exit once every partition is caught up (lag 0) for `idleMs`. */
  untilIdle: boolean;
  idleMs: number;
  log: Logger;
  /** kafkajs fetch limits: bytes per fetch and per partition (memory against read-ahead). */
  fetchMaxBytes?: number;
  partitionFetchMaxBytes?: number;
  /** Called about every `statusEveryMs` with the running totals. */
  onStatus?: (s: EmulatorStatus) => void;
  statusEveryMs?: number;
}

export interface EmulatorStatus {
  events: number;
  records: number;
  written: { postgres: number; mongo: number };
  alreadyPresent: number;
  deadLettered: number;
  tombstones: number;
  retries: number;
  /** Records per second over the last status period. */
  rate: number;
  lag: Record<string, number>;
  elapsedMs: number;
}

/** Kafka's timestamp type is bit 3 of the record batch attributes. */
const timestampType = (m: KafkaMessage) => ((m.attributes & 0x08) !== 0 ? 'LOG_APPEND_TIME' : 'CREATE_TIME');

/** Lag per partition: high watermark minus the group's committed offset. */
async function lagOf(admin: ReturnType<ReturnType<typeof createKafka>['admin']>, topic: string, groupId: string): Promise<Record<string, number>> {
  const [high, committed] = await Promise.all([admin.fetchTopicOffsets(topic), admin.fetchOffsets({ groupId, topics: [topic] })]);
  const c = new Map(committed[0]?.partitions.map((p) => [p.partition, Number(p.offset)]) ?? []);
  const lag: Record<string, number> = {};
  for (const p of high) {
    const done = c.get(p.partition) ?? -1;
    lag[`${topic}-${p.partition}`] = done < 0 ? Number(p.high) - Number(p.low) : Number(p.high) - done;
  }
  return lag;
}

export const DEFAULT_FETCH_MAX_BYTES = 32 * 1024 * 1024;
export const DEFAULT_PARTITION_FETCH_MAX_BYTES = 8 * 1024 * 1024;

/** Runs until stopped (signal), until idle (`untilIdle`), or until delivery gives up (throws). */
export async function runEmulator(o: EmulatorOptions): Promise<EmulatorStatus> {
  const kafka = createKafka(o.config, 'quotes-sink-emulator');
  const admin = kafka.admin();
  const consumer: Consumer = kafka.consumer({
    groupId: o.groupId,
    // Short, so a killed emulator's partitions are handed to its successor within seconds.
    sessionTimeout: 10_000,
    heartbeatInterval: 3_000,
    maxBytesPerPartition: o.partitionFetchMaxBytes ?? DEFAULT_PARTITION_FETCH_MAX_BYTES,
    maxBytes: o.fetchMaxBytes ?? DEFAULT_FETCH_MAX_BYTES,
    maxWaitTimeInMs: 200,
    allowAutoTopicCreation: false,
  });
  const bootstrapServers = o.config.KAFKA_BROKERS;
  const started = Date.now();
  const status: EmulatorStatus = { events: 0, records: 0, written: { postgres: 0, mongo: 0 }, alreadyPresent: 0, deadLettered: 0, tombstones: 0, retries: 0, rate: 0, lag: {}, elapsedMs: 0 };
  let fatal: unknown;
  let stopRequested = false;
  let finish!: () => void;
  const finished = new Promise<void>((r) => (finish = r));

  const collector = new EventCollector({ batchSize: o.batchSize, windowMs: o.windowMs }, async (records) => {
    const event = buildEvent(o.source, bootstrapServers, records);
    const summary: BatchSummary = await withRetry(() => o.invoke(event), o.retry, (attempt, err, delay) => {
      status.retries++;
      o.log.warn({ attempt, delayMs: delay, err }, `invoke failed, retrying ${records.length} records`);
    });
    status.events++;
    status.records += summary.received;
    status.written.postgres += summary.postgres.written;
    status.written.mongo += summary.mongo.written;
    status.alreadyPresent += summary.postgres.alreadyPresent;
    status.deadLettered += summary.deadLettered.written;
    status.tombstones += summary.tombstones.received;
  });

  const stop = (why: string) => {
    if (stopRequested) return;
    stopRequested = true;
    o.log.info({ why }, 'stopping: finishing the in-flight batch, then committing');
    finish();
  };
  const onSignal = (sig: NodeJS.Signals) => stop(sig);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  await admin.connect();
  await consumer.connect();
  await consumer.subscribe({ topic: o.topic, fromBeginning: o.startingPosition === 'TRIM_HORIZON' });
  const partitions = (await admin.fetchTopicMetadata({ topics: [o.topic] })).topics[0].partitions.length;
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: partitions,
    eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning }) => {
      if (fatal || stopRequested || !isRunning() || batch.messages.length === 0) return;
      const records = batch.messages.map((m) =>
        toEventRecord({ topic: batch.topic, partition: batch.partition, offset: m.offset, timestamp: m.timestamp, key: m.key, value: m.value, headers: m.headers, timestampType: timestampType(m) }),
      );
      const beat = setInterval(() => heartbeat().catch(() => undefined), 2_000);
      try {
        // At most one batch-size slice of a partition is in flight at a time, as with the ESM:
        // the next slice is added only once the events holding the previous one succeeded.
        for (let i = 0; i < records.length && !fatal; i += o.batchSize) await collector.add(records.slice(i, i + o.batchSize));
      } catch (e) {
        fatal = e;
        finish();
        return;
      } finally {
        clearInterval(beat);
      }
      const last = batch.lastOffset();
      resolveOffset(last);
      await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: String(Number(last) + 1) }]);
    },
  });

  let lastRecords = 0;
  let lastTick = Date.now();
  let idleSince: number | undefined;
  const tick = async () => {
    try {
      status.lag = await lagOf(admin, o.topic, o.groupId);
    } catch {
      return; // the broker may be briefly away; the next tick tries again
    }
    const now = Date.now();
    status.rate = Math.round(((status.records - lastRecords) * 1000) / Math.max(1, now - lastTick));
    status.elapsedMs = now - started;
    lastRecords = status.records;
    lastTick = now;
    o.onStatus?.(status);
    if (o.untilIdle) {
      const caughtUp = Object.values(status.lag).every((l) => l === 0) && collector.waiting === 0 && collector.inFlight === 0;
      if (!caughtUp) idleSince = undefined;
      else if (idleSince === undefined) idleSince = now;
      else if (now - idleSince >= o.idleMs) stop('idle: every partition caught up');
    }
  };
  const timer = setInterval(() => void tick(), o.untilIdle ? 250 : (o.statusEveryMs ?? 2_000));
  try {
    await finished;
  } finally {
    clearInterval(timer);
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    await consumer.disconnect().catch(() => undefined);
    status.lag = await lagOf(admin, o.topic, o.groupId).catch(() => status.lag);
    status.elapsedMs = Date.now() - started;
    await admin.disconnect().catch(() => undefined);
    await o.invoke.close?.();
  }
  if (fatal) throw fatal;
  return status;
}
