/**
 * What the UI reads from Kafka: partitions and their offsets, consumer groups' committed offsets
 * and lag, and the records of one partition from an offset. Read-only: the browsing consumer
 * commits nothing and its group is deleted after each read.
 */
import { randomBytes } from 'node:crypto';
import type { Admin, Kafka, KafkaMessage } from 'kafkajs';
import { QuotesSinkError } from '../../lib/errors';

/** One partition's offsets. */
export interface PartitionOffsets {
  partition: number;
  low: number;
  high: number;
}

/** One consumer group's position on a topic. */
export interface GroupPosition {
  groupId: string;
  /** Committed offset by partition (-1: none), and lag (records not yet committed). */
  partitions: { partition: number; committed: number; lag: number }[];
  totalLag: number;
}

/** A record read from Kafka, as bytes. */
export interface KafkaRecord {
  partition: number;
  offset: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: [string, Buffer][];
}

/** Groups the UI's own browsing consumers use (hidden from the group list). */
export const BROWSE_GROUP_PREFIX = 'quotes-sink-ui-browse-';
/** How many groups' offsets are fetched per refresh (a test broker may hold thousands of groups). */
const MAX_GROUPS = 200;

/** Thrown for a topic or partition that does not exist. */
export class KafkaViewError extends QuotesSinkError {}

/** Lag of one partition: records after the committed offset, or all of them with no commit. */
export const lagOf = (p: PartitionOffsets, committed: number): number =>
  committed < 0 ? p.high - p.low : Math.max(0, p.high - committed);

/** Headers as name/value pairs, arrays flattened. */
function headerPairs(h: KafkaMessage['headers']): [string, Buffer][] {
  const out: [string, Buffer][] = [];
  for (const [name, v] of Object.entries(h ?? {})) {
    for (const one of Array.isArray(v) ? v : [v]) if (one !== undefined) out.push([name, Buffer.from(one)]);
  }
  return out;
}

const toRecord = (partition: number, m: KafkaMessage): KafkaRecord => ({
  partition,
  offset: Number(m.offset),
  timestamp: Number(m.timestamp),
  key: m.key ?? null,
  value: m.value,
  headers: headerPairs(m.headers),
});

/** One read of a partition by a throwaway consumer: offsets [start, end). */
interface ReadPlan {
  groupId: string;
  topic: string;
  partition: number;
  start: number;
  end: number;
  timeoutMs: number;
  /** The topic's other partitions, paused. */
  others: number[];
}

/** Kafka, as the UI sees it; one admin connection for the server's life. */
export class KafkaView {
  private readonly admin: Admin;
  private connected?: Promise<void>;

  constructor(private readonly kafka: Kafka) {
    this.admin = kafka.admin();
  }

  private async ready(): Promise<Admin> {
    this.connected ??= this.admin.connect().catch((e: unknown) => {
      this.connected = undefined;
      throw e;
    });
    await this.connected;
    return this.admin;
  }

  /** Topic names, internal ones left out, sorted. */
  async topics(): Promise<string[]> {
    return (await (await this.ready()).listTopics()).filter((t) => !t.startsWith('__')).sort();
  }

  /** Low and high offsets of each partition of `topic`. */
  async offsets(topic: string): Promise<PartitionOffsets[]> {
    const admin = await this.ready();
    if (!(await admin.listTopics()).includes(topic)) throw new KafkaViewError(`no topic ${JSON.stringify(topic)}`);
    const o = await admin.fetchTopicOffsets(topic);
    return o
      .map((p) => ({ partition: p.partition, low: Number(p.low), high: Number(p.high) }))
      .sort((a, b) => a.partition - b.partition);
  }

  /** Every consumer group with a committed offset on `topic`, and `always` (the sink's) in any case. */
  async groups(topic: string, partitions: PartitionOffsets[], always: string): Promise<GroupPosition[]> {
    const admin = await this.ready();
    const listed = (await admin.listGroups()).groups
      .map((g) => g.groupId)
      .filter((g) => !g.startsWith(BROWSE_GROUP_PREFIX));
    const ids = [always, ...listed.filter((g) => g !== always).sort()].slice(0, MAX_GROUPS);
    // One OffsetFetch per group (kafkajs has no multi-group form); bounded by MAX_GROUPS.
    const positions = await Promise.all(ids.map((groupId) => this.position(groupId, topic, partitions)));
    return positions.filter((p) => p.groupId === always || p.partitions.some((x) => x.committed >= 0));
  }

  /** One group's committed offsets and lag on `topic`'s `partitions`. */
  async position(groupId: string, topic: string, partitions: PartitionOffsets[]): Promise<GroupPosition> {
    await this.ready();
    const fetched = await this.admin.fetchOffsets({ groupId, topics: [topic] }).catch(() => []);
    const committed = new Map((fetched[0]?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
    const rows = partitions.map((p) => {
      const c = committed.get(p.partition) ?? -1;
      return { partition: p.partition, committed: c, lag: lagOf(p, c) };
    });
    return { groupId, partitions: rows, totalLag: rows.reduce((s, r) => s + r.lag, 0) };
  }

  /**
   * Up to `limit` records of one partition from offset `from` (moved up to the partition's low
   * offset), read by a throwaway consumer that commits nothing. Bounded by `timeoutMs`.
   */
  async read(
    topic: string,
    partition: number,
    from: number,
    limit: number,
    timeoutMs = 10_000,
  ): Promise<KafkaRecord[]> {
    const all = await this.offsets(topic);
    const p = all.find((x) => x.partition === partition);
    if (!p) throw new KafkaViewError(`topic ${JSON.stringify(topic)} has no partition ${partition}`);
    const start = Math.max(from, p.low);
    const end = Math.min(p.high, start + limit);
    if (start >= end) return [];
    const groupId = `${BROWSE_GROUP_PREFIX}${randomBytes(6).toString('hex')}`;
    try {
      const others = all.map((x) => x.partition).filter((x) => x !== partition);
      return await this.consume({ groupId, topic, partition, start, end, timeoutMs, others });
    } finally {
      await this.admin.deleteGroups([groupId]).catch(() => undefined);
    }
  }

  private async consume(o: ReadPlan): Promise<KafkaRecord[]> {
    const { groupId, topic, partition, start, end } = o;
    const consumer = this.kafka.consumer({
      groupId,
      maxWaitTimeInMs: 100,
      sessionTimeout: 10_000,
      allowAutoTopicCreation: false,
    });
    const out = new Map<number, KafkaRecord>();
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));
    const timer = setTimeout(() => done(), o.timeoutMs);
    try {
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          if (batch.partition !== partition) return;
          for (const m of batch.messages)
            if (Number(m.offset) >= start && Number(m.offset) < end) out.set(Number(m.offset), toRecord(partition, m));
          // Compaction or transaction markers may leave gaps: the batch's last offset says how far it got.
          if (Number(batch.lastOffset()) >= end - 1) done();
        },
      });
      consumer.seek({ topic, partition, offset: String(start) });
      // Only this partition is wanted: don't fetch the others from their beginning.
      if (o.others.length > 0) consumer.pause([{ topic, partitions: o.others }]);
      await finished;
    } finally {
      clearTimeout(timer);
      await consumer.disconnect().catch(() => undefined);
    }
    return [...out.values()].sort((a, b) => a.offset - b.offset);
  }

  async close(): Promise<void> {
    if (this.connected) await this.admin.disconnect().catch(() => undefined);
  }
}
