/** MongoDB adapter: each chunk inserted unordered, in slices sent at once; idempotent on `_id` = the record's identity. */
import {
  BSON,
  MongoBulkWriteError,
  MongoClient,
  WriteConcern,
  type Collection,
  type Db,
  type Document,
  type IndexSpecification,
  type MongoClientOptions,
} from 'mongodb';
import type { Config } from '../config';
import type { RecordType } from '../records/record-type';
import { supersedesUntil, toDocument, type GoodRecord, type Tombstone } from '../sink/model';
import type { RecordStore, RecordWriteCount, Rejection } from '../sink/port';
import { sliceBounds } from '../sink/slices';
import { keyBase64Of, storedKey, type StoredKey } from '../sink/value-parts';
import { parseStoredId, storedId } from '../event/coordinates';
import { QuotesSinkError } from '../errors';
import type { EvolutionOptions } from '../sink/evolve';
import { MongoEvolution } from './evolve';

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

/** What a stored document says of the record it holds: its `_id` and fingerprint. */
interface StoredIdentity {
  _id: string;
  kafka?: { fp?: string };
}

const COLLISION = 'a different record (timestamp, key or value) is stored at these coordinates';

/** Whether a stored document holds this very record: the same fingerprint. */
const sameRecord = <T>(stored: StoredIdentity, r: GoodRecord<T>): boolean => stored.kafka?.fp === r.meta.fingerprint;

/** A filter on a document's key as the document keeps it: its text, or its base64 for a key that is not text. */
function keyFilter(key: StoredKey): Document {
  if (key.base64 !== undefined) return { 'kafka.keyBase64': key.base64 };
  return { 'kafka.key': key.text ?? null, 'kafka.keyBase64': null };
}

/** `^<cluster>:<topic>-<partition>-\\d+$`: the `_id`s of a partition of one cluster (offset 0's id, less its 0). */
const partitionIds = (cluster: string, topic: string, partition: number): RegExp =>
  new RegExp(`^${escapeRegExp(storedId(cluster, { topic, partition, offset: 0 }).slice(0, -1))}\\d+$`);

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The indexes of a record type's collection: its own, then the sink's. */
export function mongoIndexes<T>(type: RecordType<T>): IndexSpecification[] {
  const own = (type.indexes ?? [])
    .filter((i) => i.fields.length > 0)
    .map((i) => Object.fromEntries(i.fields.map((f) => [f, 1 as const])));
  return [...own, { 'kafka.timestamp': 1 }];
}

/** The per-document errors of a bulk write, or undefined when it failed as a whole (an outage). */
function writeErrorsOf(e: unknown): WriteErrorInfo[] | undefined {
  if (!(e instanceof MongoBulkWriteError)) return undefined;
  const errors = Array.isArray(e.writeErrors) ? e.writeErrors : [e.writeErrors];
  return errors.length > 0 ? errors : undefined;
}

/** Slices at once: two beat one on FerretDB, four did not (BENCHMARKS.md). */
const MAX_SLICES = 2;

/** A per-document error of an insert: its position in what was sent, code and message. */
interface WriteErrorInfo {
  index: number;
  code?: number;
  errmsg?: string;
}

/**
 * Raw value bytes up to which a slice goes as one `insert` command. A command is one BSON document
 * of at most 16 MB; JSON grows at most about 6 times as BSON (arrays of small numbers), so 2 MB of
 * values stay under it. Larger slices go through insertMany, which splits them.
 */
const COMMAND_MAX_VALUE_BYTES = 2 * 1024 * 1024;

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
  /** Slices a chunk's insert is sent in at once (at most one per pooled connection). */
  private readonly maxSlices: number;

  /** `client` is owned by the caller until {@link close}, which closes it. */
  constructor(
    private readonly client: MongoClient,
    private readonly target: MongoTarget,
    private readonly type: RecordType<T>,
    private readonly options: { evolution?: EvolutionOptions } = {},
  ) {
    this.maxSlices = Math.max(1, Math.min(MAX_SLICES, client.options?.maxPoolSize ?? 1));
    this.db = client.db(target.database);
    this.records = this.db.collection<RecordDocument>(target.collection);
  }

  /** Made once: the driver resolves options for each Db and Collection it makes. */
  private readonly db: Db;
  private readonly records: Collection<RecordDocument>;

  private collection(): Collection<RecordDocument> {
    return this.records;
  }

  /** Creates the collection's indexes if missing. */
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
    await new MongoEvolution(this.db, this.records, this.type, this.options.evolution).evolve();
  }

  /**
   * Inserts the chunk unordered (see {@link insert}), `_id` = the record's identity. A document that is
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
    return this.insert(
      records,
      records.map((_, i) => i),
      ingestedAt,
    );
  }

  /**
   * Inserts the records at positions `todo`, in slices sent at once on the pool's connections (the
   * next slice is serialised while the server stores the first: FerretDB takes two slices of 500
   * about 20 % faster than one insert of 1,000, or of everything). Per-document errors are settled,
   * an outage throws.
   */
  private async insert(records: readonly GoodRecord<T>[], todo: number[], at: Date): Promise<RecordWriteCount> {
    if (todo.length === 0) return { written: 0, alreadyPresent: 0 };
    const slices = sliceBounds(todo.length, this.maxSlices);
    const errors = (
      await Promise.all(slices.map(([from, to]) => this.insertSlice(records, todo, from, to, at)))
    ).flat();
    if (errors.length === 0) return { written: todo.length, alreadyPresent: 0 };
    return this.settleWriteErrors(records, errors, todo.length);
  }

  /** Inserts `todo[from..to)`; returns its per-document errors (positions in `records`), throws on an outage. */
  private async insertSlice(
    records: readonly GoodRecord<T>[],
    todo: readonly number[],
    from: number,
    to: number,
    at: Date,
  ): Promise<WriteErrorInfo[]> {
    const docs: RecordDocument[] = [];
    let valueBytes = 0;
    for (let i = from; i < to; i++) {
      const g = records[todo[i]];
      docs.push(toDocument(g, at));
      valueBytes += Buffer.byteLength(g.valueBase64, 'base64');
    }
    const errors = valueBytes <= COMMAND_MAX_VALUE_BYTES ? await this.insertCommand(docs) : await this.insertMany(docs);
    return errors.map((w) => ({ index: todo[from + w.index], code: w.code, errmsg: w.errmsg }));
  }

  /**
   * One `insert` command: what insertMany sends, without the driver's bulk machinery, which sizes
   * every document before serialising it (a third of the sink's CPU on the Mongo side). Per-document
   * errors come back in the reply; a write concern error is an outage.
   */
  private async insertCommand(docs: RecordDocument[]): Promise<WriteErrorInfo[]> {
    const command: Document = { insert: this.target.collection, documents: docs, ordered: false };
    // A write concern from the connection string (e.g. w=majority) applies as it does to insertMany.
    const concern = this.collection().writeConcern;
    if (concern) WriteConcern.apply(command, concern);
    const reply = await this.db.command(command);
    const failed = reply.writeConcernError as { code?: number; errmsg?: string } | undefined;
    if (failed)
      throw new QuotesSinkError(`MongoDB write concern error ${failed.code ?? ''}: ${failed.errmsg ?? ''}`.trim(), {
        retriable: true,
      });
    return (reply.writeErrors ?? []) as WriteErrorInfo[];
  }

  /** insertMany, for slices too large for one command (the driver splits them). */
  private async insertMany(docs: RecordDocument[]): Promise<WriteErrorInfo[]> {
    try {
      await this.collection().insertMany(docs, { ordered: false });
      return [];
    } catch (e) {
      const errors = writeErrorsOf(e);
      if (!errors) throw e;
      // WriteError's fields are getters: copy them, a spread would drop them.
      return errors.map((w) => ({ index: w.index, code: w.code, errmsg: w.errmsg }));
    }
  }

  /**
   * Sorts per-document errors into present (a duplicate `_id` whose document exists) and refused
   * (any other error, including a duplicate on another unique index): only the first is "written".
   */
  private async settleWriteErrors(
    records: readonly GoodRecord<T>[],
    errors: WriteErrorInfo[],
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
    const ids = duplicates.map((i) => storedId(records[i].meta.cluster, records[i].meta.coordinates));
    const stored = await this.storedById(ids);
    duplicates.forEach((i, n) => {
      const copy = stored.get(ids[n]);
      if (!copy) rejected.push({ index: i, kind: 'store', reason: 'duplicate key on a unique index other than _id' });
      else if (!sameRecord(copy, records[i])) rejected.push({ index: i, kind: 'collision', reason: COLLISION });
      else present++;
    });
    return { written: sent - errors.length, alreadyPresent: present, rejected };
  }

  /** The stored documents with these `_id`s, by `_id` (whole: the value's fields are compared too). */
  private async storedById(ids: string[]): Promise<Map<string, StoredIdentity>> {
    if (ids.length === 0) return new Map();
    const docs = await this.collection()
      .find({ _id: { $in: ids } })
      .toArray();
    return new Map(docs.map((d) => [d._id, d as StoredIdentity]));
  }

  async deleteRecords(records: readonly GoodRecord<T>[]): Promise<number> {
    const own = records.filter((g) => g.ingestedAt !== undefined);
    if (own.length === 0) return 0;
    const r = await this.collection().deleteMany({
      $or: own.map(({ meta: m, ingestedAt }) => ({
        _id: storedId(m.cluster, m.coordinates),
        'kafka.fp': m.fingerprint,
        ingestedAt,
      })),
    });
    return r.deletedCount;
  }

  /** Over MongoDB's document size: JSON of a few MB can grow past 16 MB as BSON (small arrays do). */
  screen(record: GoodRecord<T>, valueBytes: number): string | undefined {
    if (valueBytes < MEASURE_ABOVE_BYTES) return undefined;
    const bytes = BSON.calculateObjectSize(toDocument(record, new Date(0)));
    return bytes > MAX_DOCUMENT_BYTES
      ? `the document would be ${bytes} bytes of BSON, over MongoDB's 16 MB limit`
      : undefined;
  }

  /**
   * Deletes, for each keyed tombstone, the documents of its cluster and partition with its key and
   * a lower offset. Documents keep their coordinates only in `_id`, so they are found by `_id`
   * prefix and key, and their offsets compared here.
   */
  async deleteByKey(tombstones: readonly Tombstone[]): Promise<number> {
    const keyed = tombstones.filter((t) => t.meta.keyBase64 !== undefined);
    if (keyed.length === 0) return 0;
    await this.ready();
    const ids = await this.superseded(keyed);
    return ids.length > 0 ? (await this.collection().deleteMany({ _id: { $in: ids } })).deletedCount : 0;
  }

  /** `_id`s of the documents that keyed tombstones supersede. */
  private async superseded(keyed: readonly Tombstone[]): Promise<string[]> {
    const candidates = await this.collection()
      .find(
        {
          $or: keyed.map(({ meta: m }) => ({
            _id: { $regex: partitionIds(m.cluster, m.coordinates.topic, m.coordinates.partition) },
            ...keyFilter(storedKey(m.keyText, m.keyBase64)),
          })),
        },
        { projection: { _id: 1, 'kafka.key': 1, 'kafka.keyBase64': 1, 'kafka.timestamp': 1 } },
      )
      .toArray();
    return candidates
      .filter((d) => {
        const at = parseStoredId(d._id);
        const key = keyBase64Of(d.kafka?.key, d.kafka?.keyBase64);
        return keyed.some((t) => supersedes(t, at, key, d.kafka?.timestamp));
      })
      .map((d) => d._id);
  }

  async close(): Promise<void> {
    this.indexesReady = undefined;
    await this.client.close();
  }
}

/** Whether a tombstone supersedes the record stored at `at` with key `key` and timestamp `timestamp`. */
function supersedes(
  t: Tombstone,
  at: ReturnType<typeof parseStoredId>,
  key: string | null,
  timestamp: Date | undefined,
): boolean {
  const m = t.meta;
  if (!at || key !== (m.keyBase64 ?? null)) return false;
  const until = supersedesUntil(t);
  if (until !== null && timestamp !== undefined && timestamp.getTime() > until) return false;
  const { topic, partition, offset } = at.coordinates;
  return (
    at.cluster === m.cluster &&
    topic === m.coordinates.topic &&
    partition === m.coordinates.partition &&
    offset < m.coordinates.offset
  );
}
