/** MongoDB read adapter: the records collection, looked at, never written. */
import type { Collection, Document, MongoClient } from 'mongodb';
import { parseStoredId, recordId, storedId, type ClusterKey, type Coordinates } from '../event/coordinates';
import { typeFields, type RecordType } from '../records/record-type';
import {
  byOffsetThenCluster,
  byRecordId,
  checkRange,
  ofIdentities,
  type OffsetRange,
  type RecordInspector,
  type StoredIdentity,
  type StoredRecord,
} from '../sink/inspect';
import type { MongoTarget } from './store';
import { expandHeaders, keyBase64Of, rebuildText } from '../sink/value-parts';

type RecordDocument = Document & { _id: string };

/** The `kafka` field of a document (lib/sink/model.ts, `kafkaFields`). */
interface KafkaField {
  key?: string | null;
  keyBase64?: string | null;
  headers?: unknown;
  timestamp: Date;
  timestampType?: string;
}

/** `^(?:<cluster key>:)?<topic>-`: the `_id`s of a topic (or of one partition), whatever the cluster. */
const idsOf = (topic: string, partition?: number) =>
  new RegExp(`^(?:[A-Za-z0-9_-]*:)?${topic.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-${partition ?? '\\d+'}-\\d+$`);

/** The records collection of the sink's record type. */
export class MongoRecordInspector implements RecordInspector {
  readonly name = 'mongo' as const;
  private readonly fields: string[];

  /**
   * `client` stays the caller's: this adapter never closes it. `clusters`: the cluster keys whose
   * documents {@link find} looks up (besides the `_id` form without a cluster key).
   */
  constructor(
    private readonly client: MongoClient,
    private readonly target: MongoTarget,
    private readonly clusters: readonly ClusterKey[],
    type: Pick<RecordType<never>, 'columns'>,
  ) {
    this.fields = typeFields(type);
  }

  private collection(): Collection<RecordDocument> {
    return this.client.db(this.target.database).collection<RecordDocument>(this.target.collection);
  }

  async find(coordinates: readonly Coordinates[]): Promise<Map<string, StoredRecord>> {
    if (coordinates.length === 0) return new Map();
    // `_id` is the stored id (lib/event/coordinates.ts): one `$in` on the primary key, for each
    // cluster the record may have come from.
    const ids = coordinates.flatMap((c) => [recordId(c), ...this.clusters.map((k) => storedId(k, c))]);
    const docs = await this.collection()
      .find({ _id: { $in: ids } })
      .toArray();
    return byRecordId(docs.flatMap((d) => this.toStored(d)));
  }

  async get(identities: readonly StoredIdentity[]): Promise<Map<string, StoredRecord>> {
    if (identities.length === 0) return new Map();
    const ids = identities.map((i) => storedId(i.cluster, i.coordinates));
    const docs = await this.collection()
      .find({ _id: { $in: ids } })
      .toArray();
    return ofIdentities(
      docs.flatMap((d) => this.toStored(d)),
      identities,
    );
  }

  /** A document as a stored record (none for an `_id` that is not a record's identity). */
  private toStored(d: RecordDocument): StoredRecord[] {
    const k = d.kafka as KafkaField;
    const at = parseStoredId(d._id);
    if (!at) return [];
    // The text the type's fields and `extra` stand for, unless `raw` is kept.
    const text =
      typeof d.raw === 'string' ? d.raw : rebuildText(this.fields, d, d.extra as Record<string, unknown> | undefined);
    return [
      {
        store: 'mongo',
        ...at,
        keyText: k.key ?? null,
        keyBase64: keyBase64Of(k.key, k.keyBase64),
        headers: expandHeaders(k.headers),
        payload: JSON.parse(text),
        rawValue: text,
        timestamp: new Date(k.timestamp),
        timestampType: k.timestampType ?? 'CREATE_TIME',
        ingestedAt: d.ingestedAt as Date,
        raw: d,
      },
    ];
  }

  count(topic?: string): Promise<number> {
    return this.collection().countDocuments(topic === undefined ? {} : { _id: { $regex: idsOf(topic) } });
  }

  /**
   * The identities stored in `range`: documents hold their identity in `_id`, so the partition's
   * `_id`s (of every cluster) are read and those in range kept.
   */
  async identitiesIn(range: OffsetRange): Promise<StoredIdentity[]> {
    checkRange(range);
    const docs = await this.collection()
      .find({ _id: { $regex: idsOf(range.topic, range.partition) } }, { projection: { _id: 1, 'kafka.fp': 1 } })
      .toArray();
    const out: StoredIdentity[] = [];
    for (const d of docs) {
      const at = parseStoredId(d._id);
      const o = at?.coordinates.offset;
      const fp = (d as { kafka?: { fp?: unknown } }).kafka?.fp;
      if (at && o !== undefined && o >= range.from && o <= range.to)
        out.push(typeof fp === 'string' ? { ...at, fingerprint: fp } : at);
    }
    return out.sort(byOffsetThenCluster);
  }
}
