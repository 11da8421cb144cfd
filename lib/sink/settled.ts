/**
 * A dead letter's record stored after all: a record a store refused (kind `store`) and written by
 * a later read of it (its blocker gone, a backfill) is in every store, so its dead letter is no
 * longer pending. These pure steps let a dead-letter store find such dead letters with one range
 * lookup per batch, and tell them by identity and fingerprint.
 */
import type { RecordMeta } from '../event/decode';

/** The dead-letter kinds a later write of the same record settles (a store refused it). */
export const SETTLED_BY_STORING: readonly string[] = ['store'];

/** The offsets one batch stored of one cluster's topic partition. */
export interface StoredRange {
  cluster: string;
  topic: string;
  partition: number;
  /** Lowest and highest offset stored (inclusive). */
  from: number;
  to: number;
}

const partitionOf = (m: RecordMeta) => `${m.cluster}\n${m.coordinates.topic}\n${m.coordinates.partition}`;

/** The identity ranges of `stored` (re-sent records by the identity they carry), one per partition. */
export function storedRanges(stored: readonly RecordMeta[]): StoredRange[] {
  const ranges = new Map<string, StoredRange>();
  for (const m of stored) {
    const k = partitionOf(m);
    const offset = m.coordinates.offset;
    const r = ranges.get(k);
    if (!r) {
      const { topic, partition } = m.coordinates;
      ranges.set(k, { cluster: m.cluster, topic, partition, from: offset, to: offset });
    } else if (offset < r.from) r.from = offset;
    else if (offset > r.to) r.to = offset;
  }
  return [...ranges.values()];
}

/** A dead letter's identity and fingerprint. */
export interface DeadLetterIdentity {
  cluster: string;
  topic: string;
  partition: number;
  offset: number;
  fingerprint: string;
}

const identityOf = (d: DeadLetterIdentity) => `${d.cluster}\n${d.topic}\n${d.partition}\n${d.offset}\n${d.fingerprint}`;

/** The dead letters among `candidates` whose very record (identity and fingerprint) is in `stored`. */
export function storedAfterAll<D extends DeadLetterIdentity>(
  candidates: readonly D[],
  stored: readonly RecordMeta[],
): D[] {
  if (candidates.length === 0) return [];
  const held = new Set(
    stored.map((m) => identityOf({ cluster: m.cluster, ...m.coordinates, fingerprint: m.fingerprint })),
  );
  return candidates.filter((d) => held.has(identityOf(d)));
}
