/** MongoDB read adapter: the records collection, looked at, never written. */
import type { Collection, Document, MongoClient } from 'mongodb';
import { recordId, storedId, type ClusterKey, type Coordinates } from '../event/coordinates';
import type { StoredHeader } from '../event/decode';
import { byRecordId, checkRange, type OffsetRange, type RecordInspector, type StoredRecord } from './inspect';
import type { MongoTarget } from './mongo';

type RecordDocument = Document & { _id: string };

interface KafkaField {
  cluster?: string;
  topic: string;
  partition: number;
  offset: number;
  key?: string | null;
  keyBase64?: string | null;
  headers?: StoredHeader[];
  timestamp: Date;
  timestampType: string;
}

/** The records collection of the sink's record type. */
export class MongoRecordInspector implements RecordInspector {
  readonly name = 'mongo' as const;

  /**
   * `client` stays the caller's: this adapter never closes it. `clusters`: the cluster keys whose
   * documents {@link find} looks up (besides those stored before identities had a cluster).
   */
  constructor(
    private readonly client: MongoClient,
    private readonly target: MongoTarget,
    private readonly clusters: readonly ClusterKey[] = [],
  ) {}

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
    return byRecordId(docs.map((d) => MongoRecordInspector.toStored(d)));
  }

  private static toStored(d: RecordDocument): StoredRecord {
    const k = d.kafka as KafkaField;
    return {
      store: 'mongo',
      cluster: k.cluster ?? '',
      coordinates: { topic: k.topic, partition: k.partition, offset: Number(k.offset) },
      keyText: k.key ?? null,
      keyBase64: k.keyBase64 ?? null,
      headers: k.headers ?? [],
      payload: d.payload,
      rawValue: typeof d.raw === 'string' ? d.raw : null,
      timestamp: new Date(k.timestamp),
      timestampType: k.timestampType,
      ingestedAt: d.ingestedAt as Date,
      raw: d,
    };
  }

  count(topic?: string): Promise<number> {
    return this.collection().countDocuments(topic === undefined ? {} : { 'kafka.topic': topic });
  }

  async offsetsIn(range: OffsetRange): Promise<number[]> {
    checkRange(range);
    const docs = await this.collection()
      .find(
        {
          'kafka.topic': range.topic,
          'kafka.partition': range.partition,
          'kafka.offset': { $gte: range.from, $lte: range.to },
        },
        { projection: { _id: 0, 'kafka.offset': 1 } },
      )
      .toArray();
    const offsets = new Set(docs.map((d) => Number((d.kafka as { offset: number }).offset)));
    return [...offsets].sort((a, b) => a - b);
  }
}
