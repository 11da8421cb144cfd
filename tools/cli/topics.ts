/**
 * Topics as `npm run topics` and `produce --create-topic` see them: create one, list them with
 * their sizes, describe one with its offsets and a consumer group's lag. Kafka here does not create
 * topics on first use (native and compose stacks alike), so this is how they come to exist.
 */
import type { Admin } from 'kafkajs';

/** Internal topics (`__consumer_offsets`, …) are not shown. */
const isInternal = (topic: string) => topic.startsWith('__');

/**
 * Creates `topic` with `partitions` partitions and waits for their leaders (so a produce right
 * after does not race the election). Returns false when it existed already (left unchanged).
 */
export async function createTopic(
  admin: Admin,
  topic: string,
  partitions: number,
  replicationFactor = 1,
): Promise<boolean> {
  return admin.createTopics({
    waitForLeaders: true,
    topics: [{ topic, numPartitions: partitions, replicationFactor }],
  });
}

/** One partition: its leader, its offsets and, for a group, where that group stands. */
export interface PartitionState {
  partition: number;
  leader: number;
  /** The first offset still kept, and the next offset to be written. */
  low: number;
  high: number;
  /** The group's committed offset, undefined if it has committed none. */
  committed?: number;
  /** Records the group has still to read (from `low` if it has committed none). */
  lag: number;
}

/** A topic's size and, per partition, its state for one group. */
export interface TopicState {
  topic: string;
  group: string;
  partitions: PartitionState[];
  /** Records kept (high − low, summed). */
  records: number;
  /** The group's lag, summed. */
  lag: number;
}

/** The partitions, offsets and `group`'s lag of an existing topic. */
export async function describeTopic(admin: Admin, topic: string, group: string): Promise<TopicState> {
  const [metadata, offsets, committed] = await Promise.all([
    admin.fetchTopicMetadata({ topics: [topic] }),
    admin.fetchTopicOffsets(topic),
    admin.fetchOffsets({ groupId: group, topics: [topic] }),
  ]);
  const leaders = new Map(metadata.topics[0]?.partitions.map((p) => [p.partitionId, p.leader]) ?? []);
  const done = new Map(committed[0]?.partitions.map((p) => [p.partition, Number(p.offset)]) ?? []);
  const partitions = offsets
    .map((o): PartitionState => {
      const [low, high] = [Number(o.low), Number(o.high)];
      const c = done.get(o.partition);
      const committedOffset = c !== undefined && c >= 0 ? c : undefined;
      return {
        partition: o.partition,
        leader: leaders.get(o.partition) ?? -1,
        low,
        high,
        committed: committedOffset,
        lag: Math.max(0, high - Math.max(committedOffset ?? low, low)),
      };
    })
    .sort((a, b) => a.partition - b.partition);
  const sum = (f: (p: PartitionState) => number) => partitions.reduce((n, p) => n + f(p), 0);
  return { topic, group, partitions, records: sum((p) => p.high - p.low), lag: sum((p) => p.lag) };
}

/** A topic in a listing. */
export interface TopicSummary {
  topic: string;
  partitions: number;
  records: number;
}

/** Every topic but the internal ones, by name, with its partition count and records kept. */
export async function listTopics(admin: Admin): Promise<TopicSummary[]> {
  const names = (await admin.listTopics()).filter((t) => !isInternal(t)).sort();
  if (names.length === 0) return [];
  const { topics } = await admin.fetchTopicMetadata({ topics: names });
  const count = new Map(topics.map((t) => [t.name, t.partitions.length]));
  const sizes = await Promise.all(
    names.map(async (t) => (await admin.fetchTopicOffsets(t)).reduce((n, o) => n + Number(o.high) - Number(o.low), 0)),
  );
  return names.map((topic, i) => ({ topic, partitions: count.get(topic) ?? 0, records: sizes[i] }));
}

/** Rows as aligned columns under a header. */
export function table(header: string[], rows: (string | number)[][]): string[] {
  const all = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  return all.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]))).join('  '));
}
