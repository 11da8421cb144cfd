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
import { LEGACY_CLUSTER, storedId } from '../event/coordinates';

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

export const mongoTargetFrom = (c: Config): MongoTarget => ({
  database: c.MONGO_DATABASE,
  collection: c.MONGO_COLLECTION,
});

const DUPLICATE_KEY = 11000;

/** MongoDB's document limit, less room for the sink's own fields around the payload. */
export const MAX_DOCUMENT_BYTES = 16 * 1024 * 1024 - 64 * 1024;
/** JSON below this size cannot expand past the limit as BSON, so only larger values are measured. */
const MEASURE_ABOVE_BYTES = 1024 * 1024;

type RecordDocument = Document & { _id: string };

/** What a stored document says of the record it holds. */
interface StoredIdentity {
  _id: string;
  kafka?: { timestamp?: Date; keyBase64?: string | null };
  raw?: string;
  payload?: unknown;
}

const IDENTITY_FIELDS = { 'kafka.timestamp': 1, 'kafka.keyBase64': 1, raw: 1, payload: 1 } as const;

const COLLISION = 'a different record (timestamp, key or value) is stored at these coordinates';

/**
 * Whether a stored document holds this very record: same timestamp, key and value (documents from
 * before `raw` existed are compared by payload).
 */
function sameRecord<T>(stored: StoredIdentity, r: GoodRecord<T>): boolean {
  if (stored.kafka?.timestamp?.getTime() !== r.meta.timestamp) return false;
  if ((stored.kafka?.keyBase64 ?? null) !== (r.meta.keyBase64 ?? null)) return false;
  return stored.raw !== undefined
    ? stored.raw === r.valueText
    : JSON.stringify(stored.payload) === JSON.stringify(r.payload);
}

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
  /** Whether the collection holds documents from before identities had a cluster. */
  private hasLegacy = false;

  /** `client` is owned by the caller until {@link close}, which closes it. */
  constructor(
    private readonly client: MongoClient,
    private readonly target: MongoTarget,
    private readonly type: RecordType<T>,
  ) {}

  private collection(): Collection<RecordDocument> {
    return this.client.db(this.target.database).collection<RecordDocument>(this.target.collection);
  }

  /** Creates the collection's indexes if missing, and notes whether it holds documents from before clusters. */
  ready(): Promise<void> {
    this.indexesReady ??= this.prepare().catch((e: unknown) => {
      this.indexesReady = undefined;
      throw e;
    });
    return this.indexesReady;
  }

  private async prepare(): Promise<void> {
    // One index per call: FerretDB v1 drops the connection on a multi-index createIndexes whose
    // indexes already exist.
    for (const spec of mongoIndexes(this.type)) await this.collection().createIndex(spec);
    const old = await this.collection().findOne({ 'kafka.cluster': { $exists: false } }, { projection: { _id: 1 } });
    this.hasLegacy = old !== null;
  }

  /**
   * Inserts the chunk in one unordered bulkWrite, `_id` = the record's identity. A document that is
   * already there fails with a duplicate-key error; it counts as already written only when the
   * stored document is this very record (a replay), and as a collision otherwise.
   *
   * Inserts rather than `$setOnInsert` upserts: the effect is the same for records that never
   * change, it is cheaper on MongoDB, and FerretDB v1 (the native test stack) hangs for good on an
   * update command that matches more than 100 existing documents (a replayed batch).
   */
  async write(records: readonly GoodRecord<T>[], ingestedAt: Date): Promise<RecordWriteCount> {
    if (records.length === 0) return { written: 0, alreadyPresent: 0 };
    await this.ready();
    const legacy = await this.storedAsLegacy(records);
    const todo = records.map((_, i) => i).filter((i) => !legacy.has(i));
    const count = await this.insert(records, todo, ingestedAt);
    return { ...count, alreadyPresent: count.alreadyPresent + legacy.size };
  }

  /** Inserts the records at positions `todo`; per-document errors are settled, an outage throws. */
  private async insert(records: readonly GoodRecord<T>[], todo: number[], at: Date): Promise<RecordWriteCount> {
    if (todo.length === 0) return { written: 0, alreadyPresent: 0 };
    const ops: AnyBulkWriteOperation<RecordDocument>[] = todo.map((i) => ({
      insertOne: { document: toDocument(this.type, records[i], at) },
    }));
    try {
      const r = await this.collection().bulkWrite(ops, { ordered: false });
      return { written: r.insertedCount, alreadyPresent: todo.length - r.insertedCount };
    } catch (e) {
      const errors = writeErrorsOf(e);
      if (!errors) throw e;
      // WriteError's fields are getters: copy them, a spread would drop them.
      const mapped = errors.map((w) => ({ index: todo[w.index], code: w.code, errmsg: w.errmsg }));
      return this.settleWriteErrors(records, mapped, todo.length);
    }
  }

  /** Positions of records a document from before clusters already holds (looked up only if there are such documents). */
  private async storedAsLegacy(records: readonly GoodRecord<T>[]): Promise<Set<number>> {
    const same = new Set<number>();
    if (!this.hasLegacy) return same;
    const ids = records.map((g) => storedId(LEGACY_CLUSTER, g.meta.coordinates));
    const docs = await this.collection()
      .find({ _id: { $in: ids } }, { projection: IDENTITY_FIELDS })
      .toArray();
    const byId = new Map(docs.map((d) => [d._id, d as StoredIdentity]));
    records.forEach((g, i) => {
      const copy = byId.get(ids[i]);
      if (copy && sameRecord(copy, g)) same.add(i);
    });
    return same;
  }

  /**
   * Sorts per-document errors into present (a duplicate `_id` whose document exists) and refused
   * (any other error, including a duplicate on another unique index): only the first is "written".
   */
  private async settleWriteErrors(
    records: readonly GoodRecord<T>[],
    errors: { index: number; code?: number; errmsg?: string }[],
    sent: number,
  ): Promise<RecordWriteCount> {
    const rejected: Rejection[] = [];
    const duplicates: number[] = [];
    let present = 0;
    for (const w of errors) {
      const on = w.code === DUPLICATE_KEY ? duplicateOn(w.errmsg) : 'other';
      if (on === 'other')
        rejected.push({ index: w.index, kind: 'store', reason: w.errmsg ?? `MongoDB error ${w.code}` });
      else duplicates.push(w.index);
    }
    const stored = await this.storedCopies(records, duplicates);
    for (const i of duplicates) {
      const copy = stored.get(storedId(records[i].meta.cluster, records[i].meta.coordinates));
      if (!copy) rejected.push({ index: i, kind: 'store', reason: 'duplicate key on a unique index other than _id' });
      else if (!sameRecord(copy, records[i])) rejected.push({ index: i, kind: 'collision', reason: COLLISION });
      else present++;
    }
    return { written: sent - errors.length, alreadyPresent: present, rejected };
  }

  /** The stored documents (identity fields only) of the records at these positions, by `_id`. */
  private async storedCopies(
    records: readonly GoodRecord<T>[],
    positions: number[],
  ): Promise<Map<string, StoredIdentity>> {
    if (positions.length === 0) return new Map();
    const ids = positions.map((i) => storedId(records[i].meta.cluster, records[i].meta.coordinates));
    const docs = await this.collection()
      .find({ _id: { $in: ids } }, { projection: IDENTITY_FIELDS })
      .toArray();
    return new Map(docs.map((d) => [d._id, d as StoredIdentity]));
  }

  async deleteRecords(records: readonly GoodRecord<T>[]): Promise<number> {
    if (records.length === 0) return 0;
    const r = await this.collection().deleteMany({
      $or: records.map(({ meta: m }) => ({
        _id: storedId(m.cluster, m.coordinates),
        'kafka.timestamp': new Date(m.timestamp),
        'kafka.keyBase64': m.keyBase64 ?? null,
      })),
    });
    return r.deletedCount;
  }

  /** Over MongoDB's document size: JSON of a few MB can grow past 16 MB as BSON (small arrays do). */
  screen(record: GoodRecord<T>, valueBytes: number): string | undefined {
    if (valueBytes < MEASURE_ABOVE_BYTES) return undefined;
    const bytes = BSON.calculateObjectSize(toDocument(this.type, record, new Date(0)));
    return bytes > MAX_DOCUMENT_BYTES
      ? `the document would be ${bytes} bytes of BSON, over MongoDB's 16 MB limit`
      : undefined;
  }

  async deleteByKey(tombstones: readonly Tombstone[]): Promise<number> {
    const keyed = tombstones.filter((t) => t.meta.keyBase64 !== undefined);
    if (keyed.length === 0) return 0;
    await this.ready();
    const r = await this.collection().deleteMany({
      $or: keyed.map(({ meta: m }) => ({
        // Documents from before clusters have no kafka.cluster; they came from this deployment too.
        $or: [{ 'kafka.cluster': m.cluster }, { 'kafka.cluster': { $exists: false } }],
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
