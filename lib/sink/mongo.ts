/** MongoDB adapter: one unordered bulkWrite per write chunk, idempotent on `_id` = Kafka coordinates. */
import { MongoBulkWriteError, MongoClient, type AnyBulkWriteOperation, type Document, type MongoClientOptions } from 'mongodb';
import type { Config } from '../config';

export interface MongoWriteResult {
  written: number;
  duplicates: number;
}

/** Client options from config: timeouts, a small pool, TLS when asked. */
export function mongoOptions(c: Config): MongoClientOptions {
  return {
    maxPoolSize: 4,
    serverSelectionTimeoutMS: Math.min(c.MONGO_TIMEOUT_MS, 10_000),
    connectTimeoutMS: Math.min(c.MONGO_TIMEOUT_MS, 10_000),
    socketTimeoutMS: c.MONGO_TIMEOUT_MS,
    ...(c.MONGO_TLS ? { tls: true, ...(c.MONGO_TLS_CA_FILE ? { tlsCAFile: c.MONGO_TLS_CA_FILE } : {}) } : {}),
    appName: 'quotes-sink',
  };
}

const DUPLICATE_KEY = 11000;

export class MongoStore {
  private client?: MongoClient;
  private indexesReady?: Promise<unknown>;

  constructor(private readonly config: Config) {}

  private collection() {
    this.client ??= new MongoClient(this.config.MONGO_URL, mongoOptions(this.config));
    return this.client.db(this.config.MONGO_DATABASE).collection<Document & { _id: string }>(this.config.MONGO_COLLECTION);
  }

  /** Creates the collection's indexes if missing (once per container). */
  ensureIndexes(): Promise<unknown> {
    const col = this.collection();
    // One index per call: FerretDB v1 drops the connection on a multi-index createIndexes whose
    // indexes already exist.
    this.indexesReady ??= (async () => {
      await col.createIndex({ character: 1 });
      await col.createIndex({ 'kafka.timestamp': 1 });
    })().catch((e) => {
        this.indexesReady = undefined;
        throw e;
      });
    return this.indexesReady;
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
  async write(docs: { _id: string; doc: Document }[]): Promise<MongoWriteResult> {
    if (docs.length === 0) return { written: 0, duplicates: 0 };
    await this.ensureIndexes();
    const ops: AnyBulkWriteOperation<Document & { _id: string }>[] = docs.map(({ _id, doc }) => ({ insertOne: { document: { _id, ...doc } } }));
    try {
      const r = await this.collection().bulkWrite(ops, { ordered: false });
      return { written: r.insertedCount, duplicates: docs.length - r.insertedCount };
    } catch (e) {
      if (e instanceof MongoBulkWriteError) {
        const errors = Array.isArray(e.writeErrors) ? e.writeErrors : [e.writeErrors];
        if (errors.length > 0 && errors.every((w) => w.code === DUPLICATE_KEY)) {
          return { written: docs.length - errors.length, duplicates: errors.length };
        }
      }
      throw e;
    }
  }

  /** Deletes stored documents of `topic` with this key below `offset` (tombstones in delete mode). */
  async deleteByKey(topic: string, keyBase64: string, belowOffset: number): Promise<number> {
    const r = await this.collection().deleteMany({ 'kafka.topic': topic, 'kafka.keyBase64': keyBase64, 'kafka.offset': { $lt: belowOffset } });
    return r.deletedCount;
  }

  async close(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    this.indexesReady = undefined;
    await c?.close();
  }
}
