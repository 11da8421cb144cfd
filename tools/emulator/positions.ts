/**
 * Where the group stands in each partition, to notice records that retention deleted before they
 * were consumed. kafkajs answers a fetch below the low watermark (OFFSET_OUT_OF_RANGE) by resetting
 * to the subscription's default, the earliest offset for TRIM_HORIZON, and says nothing. The AWS
 * event source mapping also resumes from the earliest available offset; we do the same but log
 * the gap and count it in the status.
 */
import type { RetentionGap, Watermarks } from './status';

export class Positions {
  /** Partition → next offset to deliver (everything before it was delivered and committed). */
  private readonly next = new Map<number, number>();
  /** Partitions with a batch under way: their position is about to move. */
  private readonly busy = new Set<number>();
  /** Moves so far, and the move each partition last made: committed offsets read before it are stale. */
  private moves = 0;
  private readonly movedAt = new Map<number, number>();

  /** Starts from the group's committed offsets; negative ones (none, or kafkajs's reset marks) are unknown. */
  constructor(committed: ReadonlyMap<number, number> = new Map()) {
    for (const [partition, offset] of committed) if (offset >= 0) this.next.set(partition, offset);
  }

  /** The next offset to deliver in `partition`, if known. */
  of(partition: number): number | undefined {
    return this.next.get(partition);
  }

  /** A batch of `partition` is being handled. */
  begin(partition: number): void {
    this.busy.add(partition);
  }

  /** The batch of `partition` is done (delivered or not). */
  end(partition: number): void {
    this.busy.delete(partition);
  }

  /** Everything before `offset` in `partition` was delivered and committed. */
  advance(partition: number, offset: number): void {
    this.next.set(partition, offset);
    this.movedAt.set(partition, ++this.moves);
  }

  /** A mark to take before reading the group's committed offsets, for {@link recreated}. */
  mark(): number {
    return this.moves;
  }

  /**
   * Gaps where the position is below the low watermark: those offsets are gone and will never be
   * delivered. Each is reported once (the position moves to the low watermark). Partitions with a
   * batch under way are skipped unless named in `include` (their caller is that batch).
   */
  gaps(marks: readonly Watermarks[], include?: number): RetentionGap[] {
    const out: RetentionGap[] = [];
    for (const m of marks) {
      const at = this.next.get(m.partition);
      if (at === undefined || at >= m.low) continue;
      if (this.busy.has(m.partition) && m.partition !== include) continue;
      out.push({ partition: m.partition, from: at, to: m.low });
      this.next.set(m.partition, m.low);
    }
    return out;
  }

  /**
   * Partitions of a topic that was deleted and created again (kafkajs 2.2.4 does not expose topic
   * ids, so this is how it shows): the position is past the high watermark, or the group's committed
   * offset, which we committed, is gone. Kafka deletes a deleted topic's committed offsets from every
   * group, and never expires those of a group with members, so a missing one means the topic went
   * away, even when the new topic's end has already reached the old position. Each moves to the new
   * topic's low watermark and is reported once. Partitions with a batch under way are skipped
   * unless named in `include` (their caller is that batch). `readAt`: {@link mark} before the
   * committed offsets were read.
   */
  recreated(
    marks: readonly Watermarks[],
    committed?: ReadonlyMap<number, number>,
    include?: number,
    readAt = Infinity,
  ): Watermarks[] {
    const out: Watermarks[] = [];
    for (const m of marks) {
      const at = this.next.get(m.partition);
      if (at === undefined || (this.busy.has(m.partition) && m.partition !== include)) continue;
      // -1 is "no committed offset"; kafkajs's reset marks are other negative numbers (-2 for the
      // earliest, after retention deleted our offset). A partition that moved after `readAt` (the
      // mark taken before the offsets were read) may not show its commit yet.
      const fresh = (this.movedAt.get(m.partition) ?? 0) <= readAt;
      const gone = committed !== undefined && fresh && (committed.get(m.partition) ?? -1) === -1;
      if (at <= m.high && !gone) continue;
      out.push(m);
      this.next.set(m.partition, m.low);
    }
    return out;
  }
}
