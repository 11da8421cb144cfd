/**
 * Bytes per record in each store, read back from what the handler wrote: the Postgres row (its
 * own size, and the table with its indexes and TOAST per row) and the Mongo document (BSON, as the
 * server returns it), against the record's value (the UTF-8 JSON the producer sent).
 */
import { BSON, MongoClient, type Document } from 'mongodb';
import pg from 'pg';
import type { Config } from '../lib/config';
import { quotesRoute } from '../lib/routes/default';
import { typeFields } from '../lib/records/record-type';
import { qualifiedTable } from '../lib/postgres/names';
import { rebuildText } from '../lib/sink/value-parts';

/** The sink file's quotes route, as the function sinks quotes. */
const quoteType = quotesRoute();

/** Documents read back to measure (FerretDB reads slowly: a sample is enough). */
const MONGO_SAMPLE = 2_000;

/** What {@link measureStorage} returns; every figure is bytes per record. */
export interface StorageSample {
  /** The records' values, as sent (mean). */
  valueBytes: number;
  postgres: { rowBytes: number; tableBytesPerRecord: number };
  /** `valueBytes`: the values of the very documents measured. */
  mongo: { documentBytes: number; valueBytes: number; sample: number };
}

/** Mean row size (`pg_column_size` of the whole row) and the table's total size per row. */
async function postgresBytes(config: Config): Promise<StorageSample['postgres']> {
  const client = new pg.Client({ connectionString: config.POSTGRES_URL });
  await client.connect();
  try {
    const table = qualifiedTable(config, 'records');
    await client.query(`vacuum analyze ${table}`);
    const r = await client.query<{ row: number; total: string; n: string }>(
      `select avg(pg_column_size(t.*))::float8 as row, pg_total_relation_size('${table}') as total, count(*) as n from ${table} t`,
    );
    const { row, total, n } = r.rows[0];
    return { rowBytes: Math.round(row), tableBytesPerRecord: Math.round(Number(total) / Number(n)) };
  } finally {
    await client.end();
  }
}

/**
 * Mean BSON size of a sample of the collection's documents, and of those records' values (the
 * text each document stands for: its `raw`, or the text its fields rebuild).
 */
async function mongoBytes(config: Config): Promise<StorageSample['mongo']> {
  const mongo = await MongoClient.connect(config.MONGO_URL);
  try {
    const docs = await mongo
      .db(config.MONGO_DATABASE)
      .collection(config.MONGO_COLLECTION)
      .find({})
      .limit(MONGO_SAMPLE)
      .toArray();
    const fields = typeFields(quoteType);
    const text = (d: Document) =>
      typeof d.raw === 'string' ? d.raw : rebuildText(fields, d, d.extra as Record<string, unknown> | undefined);
    const n = Math.max(1, docs.length);
    const documentBytes = docs.reduce((sum, d) => sum + BSON.calculateObjectSize(d), 0) / n;
    const valueBytes = docs.reduce((sum, d) => sum + Buffer.byteLength(text(d)), 0) / n;
    return { documentBytes: Math.round(documentBytes), valueBytes: Math.round(valueBytes), sample: docs.length };
  } finally {
    await mongo.close();
  }
}

/** Bytes per record in the stores `config` points at, for values of `valueBytes` bytes (mean). */
export async function measureStorage(config: Config, valueBytes: number): Promise<StorageSample> {
  return { valueBytes: Math.round(valueBytes), postgres: await postgresBytes(config), mongo: await mongoBytes(config) };
}
