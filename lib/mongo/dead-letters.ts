/**
 * Dead letters in MongoDB, for a sink that writes to MongoDB only (`SINK_STORES=mongo`): the same
 * fields as the Postgres table, one document per record, `_id` = the record's identity and
 * fingerprint (two different records at one identity are two dead letters, as in Postgres).
 */
import { MongoBulkWriteError, type AnyBulkWriteOperation, type Collection, type MongoClient } from 'mongodb';
import { isStorableTimestamp, type RecordMeta } from '../event/decode';
import { storedId } from '../event/coordinates';
import { supersedesUntil, type DeadLetter, type Tombstone } from '../sink/model';
import type { DeadLetterStore, WriteCount } from '../sink/port';
import { SETTLED_BY_STORING, storedAfterAll, storedRanges } from '../sink/settled';

const DUPLICATE_KEY = 11000;

/** A dead letter as stored: coordinates, the raw key, value and headers, and why. */
export interface DeadLetterDocument {
  _id: string;
  cluster: string;
  topic: string;
  partition: number;
  offset: number;
  fingerprint: string;
  keyBase64: string | null;
  valueBase64: string | null;
  headers: DeadLetter['meta']['headers'];
  /** Null when the record's timestamp is one no store can hold. */
  timestamp: Date | null;
  /** The original timestamp, whatever it is. */
  timestampMs: number;
  timestampType: string;
  errorKind: string;
  error: string;
  failedAt: Date;
  replayedAt: Date | null;
  /** The offset of the tombstone of its key that made it moot (absent until then). */
  supersededBy?: number;
  /** When a later write stored the very record a store had refused (absent until then). */
  storedAt?: Date;
}

/** A dead letter still to act on (as PENDING_DEAD_LETTER in Postgres). */
const PENDING = { replayedAt: null, supersededBy: { $exists: false }, storedAt: { $exists: false } } as const;

/** The document of a dead letter. */
export function deadLetterDocument(d: DeadLetter, failedAt: Date): DeadLetterDocument {
  const m = d.meta;
  return {
    _id: `${storedId(m.cluster, m.coordinates)}#${m.fingerprint}`,
    cluster: m.cluster,
    ...m.coordinates,
    fingerprint: m.fingerprint,
    keyBase64: m.keyBase64 ?? null,
    valueBase64: d.valueBase64 ?? null,
    headers: m.headers,
    timestamp: isStorableTimestamp(m.timestamp) ? new Date(m.timestamp) : null,
    timestampMs: m.timestamp,
    timestampType: m.timestampType,
    errorKind: d.error.kind,
    error: d.error.detail,
    failedAt,
    replayedAt: null,
  };
}

/** The per-document errors of a bulk write, or undefined when it failed as a whole (an outage). */
function duplicateIndexes(e: unknown): number[] | undefined {
  if (!(e instanceof MongoBulkWriteError)) return undefined;
  const errors = Array.isArray(e.writeErrors) ? e.writeErrors : [e.writeErrors];
  if (errors.length === 0 || errors.some((w) => w.code !== DUPLICATE_KEY)) return undefined;
  return errors.map((w) => w.index);
}

/** An applied tombstone: the highest offset per cluster, partition and key, and its timestamp. */
interface AppliedTombstone {
  _id: string;
  offset: number;
  /** Absent in those remembered before it was kept. */
  timestampMs?: number;
}

/** The `_id` of the applied tombstone of `m`'s cluster, partition and key. */
const tombstoneId = (m: Pick<RecordMeta, 'cluster' | 'coordinates' | 'keyBase64'>): string =>
  JSON.stringify([m.cluster, m.coordinates.topic, m.coordinates.partition, m.keyBase64]);

/** The dead-letter collection. Written only when a chunk has dead letters. */
export class MongoDeadLetterStore implements DeadLetterStore {
  readonly name = 'mongo' as const;

  /** `client` belongs to the records store, which closes it. */
  constructor(
    private readonly client: MongoClient,
    private readonly target: { database: string; collection: string },
  ) {}

  private collection(): Collection<DeadLetterDocument> {
    return this.client.db(this.target.database).collection<DeadLetterDocument>(this.target.collection);
  }

  /** Nothing to create: the collection appears with its first document, keyed by `_id`. */
  async ready(): Promise<void> {}

  /**
   * Inserts the dead letters; one already there counts as present, unless it was replayed: a
   * replayed record that fails again is a dead letter again (as in the Postgres table).
   */
  async write(deadLetters: readonly DeadLetter[]): Promise<WriteCount> {
    if (deadLetters.length === 0) return { written: 0, alreadyPresent: 0 };
    const docs = deadLetters.map((d) => deadLetterDocument(d, new Date()));
    try {
      const r = await this.collection().insertMany(docs, { ordered: false });
      return { written: r.insertedCount, alreadyPresent: 0 };
    } catch (e) {
      const duplicates = duplicateIndexes(e);
      if (!duplicates) throw e;
      // Only a re-sent copy re-arms a replayed dead letter (as in Postgres).
      const rearmed = await this.rearm(duplicates.filter((i) => deadLetters[i].meta.resent).map((i) => docs[i]));
      const inserted = docs.length - duplicates.length;
      return { written: inserted + rearmed, alreadyPresent: duplicates.length - rearmed };
    }
  }

  /** Makes replayed dead letters among `docs` pending again with their new reason; returns how many. */
  private async rearm(docs: DeadLetterDocument[]): Promise<number> {
    if (docs.length === 0) return 0;
    const replayed = await this.collection()
      .find(
        {
          $or: docs.map((d) => ({ _id: d._id, valueBase64: d.valueBase64 })),
          replayedAt: { $ne: null },
          supersededBy: { $exists: false },
        },
        { projection: { _id: 1 } },
      )
      .toArray();
    if (replayed.length === 0) return 0;
    const again = new Set(replayed.map((d) => d._id));
    const ops: AnyBulkWriteOperation<DeadLetterDocument>[] = docs
      .filter((d) => again.has(d._id))
      .map((d) => ({
        updateOne: {
          filter: { _id: d._id, replayedAt: { $ne: null }, supersededBy: { $exists: false } },
          update: { $set: { errorKind: d.errorKind, error: d.error, failedAt: d.failedAt, replayedAt: null } },
        },
      }));
    const r = await this.collection().bulkWrite(ops, { ordered: false });
    return r.modifiedCount;
  }

  async supersede(tombstones: readonly Tombstone[]): Promise<number> {
    const keyed = tombstones.filter((t) => t.meta.keyBase64 !== undefined);
    if (keyed.length === 0) return 0;
    const ops: AnyBulkWriteOperation<DeadLetterDocument>[] = keyed.map((t) => {
      const m = t.meta;
      const until = supersedesUntil(t);
      return {
        updateMany: {
          filter: {
            cluster: m.cluster,
            topic: m.coordinates.topic,
            partition: m.coordinates.partition,
            keyBase64: m.keyBase64,
            offset: { $lt: m.coordinates.offset },
            supersededBy: { $exists: false },
            ...(until === null ? {} : { timestampMs: { $lte: until } }),
          },
          update: { $set: { supersededBy: m.coordinates.offset } },
        },
      };
    });
    const [marked] = await Promise.all([this.collection().bulkWrite(ops, { ordered: false }), this.remember(keyed)]);
    return marked.modifiedCount;
  }

  /** Remembers the highest offset of each tombstone's cluster, partition and key, with its timestamp. */
  private async remember(keyed: readonly Tombstone[]): Promise<void> {
    const latest = new Map<string, Tombstone['meta']>();
    for (const { meta: m } of keyed) {
      const id = tombstoneId(m);
      if ((latest.get(id)?.coordinates.offset ?? -1) < m.coordinates.offset) latest.set(id, m);
    }
    // An upsert whose filter misses because a higher offset is there inserts its `_id` again: the
    // duplicate-key error is that "already newer".
    const ops: AnyBulkWriteOperation<AppliedTombstone>[] = [...latest].map(([id, m]) => ({
      updateOne: {
        filter: { _id: id, offset: { $lt: m.coordinates.offset } },
        update: { $set: { offset: m.coordinates.offset, timestampMs: m.timestamp } },
        upsert: true,
      },
    }));
    try {
      await this.tombstones().bulkWrite(ops, { ordered: false });
    } catch (e) {
      if (!duplicateIndexes(e)) throw e;
    }
  }

  async superseded(records: readonly RecordMeta[]): Promise<Set<number>> {
    const keyed = records.flatMap((m, i) => (m.keyBase64 === undefined ? [] : [{ m, i, id: tombstoneId(m) }]));
    if (keyed.length === 0) return new Set();
    const found = await this.tombstones()
      .find({ _id: { $in: [...new Set(keyed.map((k) => k.id))] } })
      .toArray();
    const at = new Map(found.map((t) => [t._id, t]));
    const supersedes = (k: (typeof keyed)[number]) => {
      const t = at.get(k.id);
      return t !== undefined && t.offset > k.m.coordinates.offset && !(k.m.timestamp > (t.timestampMs ?? Infinity));
    };
    return new Set(keyed.filter(supersedes).map((k) => k.i));
  }

  async markStored(stored: readonly RecordMeta[]): Promise<number> {
    if (stored.length === 0) return 0;
    const ranges = storedRanges(stored).map((r) => ({
      cluster: r.cluster,
      topic: r.topic,
      partition: r.partition,
      offset: { $gte: r.from, $lte: r.to },
    }));
    const found = await this.collection()
      .find(
        { $or: ranges, errorKind: { $in: [...SETTLED_BY_STORING] }, ...PENDING },
        { projection: { cluster: 1, topic: 1, partition: 1, offset: 1, fingerprint: 1 } },
      )
      .toArray();
    const settled = storedAfterAll(found, stored);
    if (settled.length === 0) return 0;
    const r = await this.collection().updateMany(
      { _id: { $in: settled.map((d) => d._id) }, ...PENDING },
      { $set: { storedAt: new Date() } },
    );
    return r.modifiedCount;
  }

  /** `topic/cluster` pairs noted by this instance, and what the store answered. */
  private readonly noted = new Map<string, Promise<string[]>>();

  otherClusters(topic: string, cluster: string): Promise<string[]> {
    const key = JSON.stringify([topic, cluster]);
    let answer = this.noted.get(key);
    if (!answer) {
      answer = this.noteCluster(key, topic, cluster).catch((e: unknown) => {
        this.noted.delete(key);
        throw e;
      });
      this.noted.set(key, answer);
    }
    return answer;
  }

  private async noteCluster(id: string, topic: string, cluster: string): Promise<string[]> {
    const clusters = this.client
      .db(this.target.database)
      .collection<{ _id: string; topic: string; cluster: string; firstSeen: Date }>(
        `${this.target.collection}_clusters`,
      );
    await clusters.updateOne(
      { _id: id },
      { $setOnInsert: { topic, cluster, firstSeen: new Date() } },
      { upsert: true },
    );
    const seen = await clusters
      .find({ topic, cluster: { $ne: cluster } })
      .sort({ firstSeen: 1 })
      .toArray();
    return seen.map((c) => c.cluster);
  }

  /** Applied tombstones, beside the dead letters: `<dead letters>_tombstones`. */
  private tombstones(): Collection<AppliedTombstone> {
    return this.client.db(this.target.database).collection<AppliedTombstone>(`${this.target.collection}_tombstones`);
  }

  /** The client belongs to the records store, which closes it. */
  async close(): Promise<void> {}
}
