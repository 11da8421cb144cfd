/**
 * Where a new consumer group starts: LATEST at the high watermarks, AT_TIMESTAMP at the first offset
 * whose timestamp is at or after the given time (the high watermark where there is none), as the
 * event source mapping's StartingPosition says.
 */
import type { Admin } from 'kafkajs';
import type { Watermarks } from './status';

/** The offsets to commit for a new group, by partition. */
export async function startOffsets(
  admin: Pick<Admin, 'fetchTopicOffsetsByTimestamp'>,
  topic: string,
  marks: readonly Watermarks[],
  position: 'LATEST' | 'AT_TIMESTAMP',
  timestampMs?: number,
): Promise<{ partition: number; offset: string }[]> {
  if (position === 'LATEST' || timestampMs === undefined) {
    return marks.map((m) => ({ partition: m.partition, offset: String(m.high) }));
  }
  const found = await admin.fetchTopicOffsetsByTimestamp(topic, timestampMs);
  return marks.map((m) => {
    const at = Number(found.find((f) => f.partition === m.partition)?.offset ?? -1);
    return { partition: m.partition, offset: String(at >= 0 ? at : m.high) };
  });
}
