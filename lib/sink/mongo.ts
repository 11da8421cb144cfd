/** MongoDB adapter: one unordered bulkWrite per write chunk, idempotent on `_id` = Kafka coordinates. */
import {
  BSON,
  MongoBulkWriteError,
  MongoClient,
  type AnyBulkWriteOperation,
  type Collection,
  type Document,
  type IndexSpecification,
  type MongoClientOptions,
} from 'mongodb';
import type { Config } from '../config';
import type { RecordType } from '../records/record-type';
import { toDocument, type GoodRecord, type Tombstone } from './model';
import type { RecordStore, RecordWriteCount, Rejection } from './port';
import { recordId } from '../event/coordinates';

/** Client options from config: timeouts, a small pool, TLS when asked. */
export function mongoOptions(c: Config): MongoClientOptions {
  return {
    maxPoolSize: c.MONGO_POOL_MAX,
    serverSelectionTimeoutMS: Math.min(c.MONGO_TIMEOUT_MS, 10_000),
    connectTimeoutMS: Math.min(c.MONGO_TIMEOUT_MS, 10_000),
    socketTimeoutMS: c.MONGO_TIMEOUT_MS,
    ...(c.MONGO_TLS ? { tls: true, ...(c.MONGO_TLS_CA_FILE ? { tlsCAFile: c.MONGO_TLS_CA_FILE } : {}) } : {}),
    appName: 'quotes-sink',
  };
}

/** A client for the sink; the driver connects on first use, so creating it does no I/O. */
export const createMongoClient = (c: Config): MongoClient => new MongoClient(c.MONGO_URL, mongoOptions(c));

/** Where the records go: database and collection. */
export interface MongoTarget {
  database: string;
  collection: string;
}

export const mongoTargetFrom = (c: Config): MongoTarget => ({ database: c.MONGO_DATABASE, collection: c.MONGO_COLLECTION });

const DUPLICATE_KEY = 11000;

/** MongoDB's document limit, less room for the sink's own fields around the payload. */
export const MAX_DOCUMENT_BYTES = 16 * 1024 * 1024 - 64 * 1024;
/** JSON below this size cannot expand past the limit as BSON, so only larger values are measured. */
const MEASURE_ABOVE_BYTES = 1024 * 1024;

type RecordDocument = Document & { _id: string };

/** The indexes of a record type's collection: its own, then the sink's. */
export function mongoIndexes<T>(type: RecordType<T>): IndexSpecification[] {
  const own = (type.indexes ?? []).map((i) => Object.fromEntries(i.fields.map((f) => [f, 1 as const])));
  return [...own, { 'kafka.timestamp': 1 }];
}

/** The per-document errors of a bulk write, or undefined when it failed as a whole (an outage). */
function writeErrorsOf(e: unknown): { index: number; code?: number; errmsg?: string }[] | undefined {
  if (!(e instanceof MongoBulkWriteError)) return undefined;
  const errors = Array.isArray(e.writeErrors) ? e.writeErrors : [e.writeErrors];
  return errors.length > 0 ? errors : undefined;
}

/**
 * Whether a duplicate-key error is on `_id` (the record is there already), on another unique index
 * (the record is refused), or does not say (FerretDB names no index: look the `_id` up).
 */
function duplicateOn(errmsg = ''): '_id' | 'other' | 'unknown' {
  if (/index: _id_\b/.test(errmsg)) return '_id';
  return /index: /.test(errmsg) ? 'other' : 'unknown';
}

export class MongoStore<T> implements RecordStore<T> {
  readonly name = 'mongo' as const;
  private indexesReady?: Promise<void>;

  /** `client` is owned by the caller until {@link close}, which closes it. */
  constructor(
    private readonly client: MongoClient,
    private readonly target: MongoTarget,
    private readonly type: RecordType<T>,
  ) {}

  private collection(): Collection<RecordDocument> {
    return this.client.db(this.target.database).collection<RecordDocument>(this.target.collection);
  }

  /** Creates the collection's indexes if missing (once per instance; again after a failure). */
  ready(): Promise<void> {
    this.indexesReady ??= this.createIndexes().catch((e: unknown) => {
      this.indexesReady = undefined;
      throw e;
    });
    return this.indexesReady;
  }

  // One index per call: FerretDB v1 drops the connection on a multi-index createIndexes whose
  // indexes already exist.
  private async createIndexes(): Promise<void> {
    for (const spec of mongoIndexes(this.type)) await this.collection().createIndex(spec);
  }

  /**
   * Inserts the chunk in one unordered bulkWrite, `_id` = the record's coordinates. A document that
   * is already there fails with a duplicate-key error, which counts as already written: a replay
   * changes nothing, and a race with a concurrent writer cannot double a record.
   *
   * Inserts rather than `$setOnInsert` upserts: the effect is the same for records that never
   * change, it is cheaper on MongoDB, and FerretDB v1 (the native test stack) hangs for good on an
   * update command that matches more than 100 existing documents (a replayed batch).
   */
  async write(records: readonly GoodRecord<T>[], ingestedAt: Date): Promise<RecordWriteCount> {
    if (records.length === 0) return { written: 0, alreadyPresent: 0 };
    await this.ready();
    const ops: AnyBulkWriteOperation<RecordDocument>[] = records.map((g) => ({
      insertOne: { document: toDocument(this.type, g, ingestedAt) },
    }));
    try {
      const r = await this.collection().bulkWrite(ops, { ordered: false });
      return { written: r.insertedCount, alreadyPresent: records.length - r.insertedCount };
    } catch (e) {
      const errors = writeErrorsOf(e);
      if (!errors) throw e;
      return this.settleWriteErrors(records, errors);
    }
  }

  /**
   * Sorts per-document errors into present (a duplicate `_id` whose document exists) and refused
   * (any other error, including a duplicate on another unique index): only the first is "written".
   */
  private async settleWriteErrors(
    records: readonly GoodRecord<T>[],
    errors: { index: number; code?: number; errmsg?: string }[],
  ): Promise<RecordWriteCount> {
    const rejected: Rejection[] = [];
    const unclear: number[] = [];
    let present = 0;
    for (const w of errors) {
      const on = w.code === DUPLICATE_KEY ? duplicateOn(w.errmsg) : 'other';
      if (on === '_id') present++;
      else if (on === 'unknown') unclear.push(w.index);
      else rejected.push({ index: w.index, reason: w.errmsg ?? `MongoDB error ${w.code}` });
    }
    if (unclear.length > 0) {
      const ids = unclear.map((i) => recordId(records[i].meta.coordinates));
      const found = new Set((await this.collection().find({ _id: { $in: ids } }, { projection: { _id: 1 } }).toArray()).map((d) => d._id));
      for (const i of unclear) {
        if (found.has(recordId(records[i].meta.coordinates))) present++;
        else rejected.push({ index: i, reason: 'duplicate key on a unique index other than _id' });
      }
    }
    return { written: records.length - errors.length, alreadyPresent: present, rejected };
  }

  async deleteRecords(records: readonly GoodRecord<T>[]): Promise<number> {
    if (records.length === 0) return 0;
    const r = await this.collection().deleteMany({ _id: { $in: records.map((g) => recordId(g.meta.coordinates)) } });
    return r.deletedCount;
  }

  /** Over MongoDB's document size: JSON of a few MB can grow past 16 MB as BSON (small arrays do). */
  screen(record: GoodRecord<T>, valueBytes: number): string | undefined {
    if (valueBytes < MEASURE_ABOVE_BYTES) return undefined;
    const bytes = BSON.calculateObjectSize(toDocument(this.type, record, new Date(0)));
    return bytes > MAX_DOCUMENT_BYTES ? `the document would be ${bytes} bytes of BSON, over MongoDB's 16 MB limit` : undefined;
  }

  async deleteByKey(tombstones: readonly Tombstone[]): Promise<number> {
    const keyed = tombstones.filter((t) => t.meta.keyBase64 !== undefined);
    if (keyed.length === 0) return 0;
    await this.ready();
    const r = await this.collection().deleteMany({
      $or: keyed.map(({ meta: m }) => ({
        'kafka.topic': m.coordinates.topic,
        'kafka.partition': m.coordinates.partition,
        'kafka.keyBase64': m.keyBase64,
        'kafka.offset': { $lt: m.coordinates.offset },
      })),
    });
    return r.deletedCount;
  }

  async close(): Promise<void> {
    this.indexesReady = undefined;
    await this.client.close();
  }
}
