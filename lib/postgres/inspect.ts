/** PostgreSQL read adapters: the records table and the dead-letter table, looked at, never written. */
import type pg from 'pg';
import { recordId, type Coordinates } from '../event/coordinates';
import type { StoredHeader } from '../event/decode';
import type {
  DeadLetterFilter,
  DeadLetterInspector,
  DeadLetterRecord,
  OffsetRange,
  RecordInspector,
  StoredIdentity,
  StoredRecord,
} from '../sink/inspect';
import { byOffsetThenCluster, byRecordId, checkRange, ofIdentities } from '../sink/inspect';
import { PENDING_DEAD_LETTER } from './tables';
import { qualified, type Tables } from './names';
import type { RecordType } from '../records/record-type';
import { keyBase64Of, rebuildText } from '../sink/value-parts';

/** Postgres's undefined_table: nothing was written yet, so there is nothing to see. */
const UNDEFINED_TABLE = '42P01';

/** Runs a query; a table that does not exist yet reads as empty. */
async function rowsOf<R extends pg.QueryResultRow>(pool: pg.Pool, sql: string, params: unknown[]): Promise<R[]> {
  try {
    return (await pool.query<R>(sql, params)).rows;
  } catch (e) {
    if ((e as { code?: string }).code === UNDEFINED_TABLE) return [];
    throw e;
  }
}

/** `(topic, partition, offset) in (…)` over three array parameters, starting at `$first`. */
const IN_COORDINATES = (first: number) =>
  `(topic, partition, "offset") in (select * from unnest($${first}::text[], $${first + 1}::int[], $${first + 2}::bigint[]))`;

const coordinateParams = (cs: readonly Coordinates[]) => [
  cs.map((c) => c.topic),
  cs.map((c) => c.partition),
  cs.map((c) => c.offset),
];

const coordinatesOf = (r: { topic: string; partition: number; offset: string | number }): Coordinates => ({
  topic: r.topic,
  partition: r.partition,
  offset: Number(r.offset),
});

const RANGE = 'topic = $1 and partition = $2 and "offset" between $3 and $4 order by "offset"';
const rangeParams = (r: OffsetRange) => [r.topic, r.partition, r.from, r.to];

/** The records table of the sink's record type. */
export class PostgresRecordInspector implements RecordInspector {
  readonly name = 'postgres' as const;
  private readonly table: string;
  /** The type's own fields and the columns that hold them. */
  private readonly fields: { field: string; column: string }[];

  /** `pool` stays the caller's: this adapter never ends it. */
  constructor(
    private readonly pool: pg.Pool,
    tables: Tables,
    type: Pick<RecordType<never>, 'columns'>,
  ) {
    this.table = qualified(tables, 'records');
    this.fields = type.columns.flatMap((c) => (c.field ? [{ field: c.field, column: c.name }] : []));
  }

  /** The value's text: `raw_value` where the row keeps it, else rebuilt from the type's columns and `extra`. */
  private textOf(r: Record<string, unknown>): string {
    if (typeof r.raw_value === 'string') return r.raw_value;
    const source = Object.fromEntries(this.fields.map((f) => [f.field, r[f.column]]));
    return rebuildText(
      this.fields.map((f) => f.field),
      source,
      r.extra as Record<string, unknown> | null,
    );
  }

  async find(coordinates: readonly Coordinates[]): Promise<Map<string, StoredRecord>> {
    return byRecordId(await this.at(coordinates));
  }

  /** Every cluster's rows at `coordinates`. */
  private async at(coordinates: readonly Coordinates[]): Promise<StoredRecord[]> {
    if (coordinates.length === 0) return [];
    const rows = await rowsOf(
      this.pool,
      `select * from ${this.table} where ${IN_COORDINATES(1)}`,
      coordinateParams(coordinates),
    );
    return rows.map((r) => this.toStored(r));
  }

  async get(identities: readonly StoredIdentity[]): Promise<Map<string, StoredRecord>> {
    // By coordinates, then narrowed: a coordinate holds a record of only a few clusters.
    return ofIdentities(await this.at(identities.map((i) => i.coordinates)), identities);
  }

  private toStored(r: Record<string, unknown>): StoredRecord {
    const text = this.textOf(r);
    return {
      store: 'postgres',
      cluster: r.cluster as string,
      coordinates: coordinatesOf(r as never),
      keyText: (r.kafka_key as string | null) ?? null,
      keyBase64: keyBase64Of(r.kafka_key as string | null, r.kafka_key_base64 as string | null),
      headers: (r.headers as StoredHeader[]) ?? [],
      // The text the row stands for, parsed.
      payload: JSON.parse(text),
      rawValue: text,
      timestamp: r.kafka_timestamp as Date,
      timestampType: r.timestamp_type as string,
      ingestedAt: r.ingested_at as Date,
      raw: { ...r, offset: Number(r.offset) },
    };
  }

  async count(topic?: string): Promise<number> {
    const where = topic === undefined ? '' : 'where topic = $1';
    const rows = await rowsOf<{ n: number }>(
      this.pool,
      `select count(*)::int as n from ${this.table} ${where}`,
      topic === undefined ? [] : [topic],
    );
    return rows[0]?.n ?? 0;
  }

  async identitiesIn(range: OffsetRange): Promise<StoredIdentity[]> {
    checkRange(range);
    const rows = await rowsOf<{ cluster: string; offset: string; fingerprint: string | null }>(
      this.pool,
      `select "cluster", "offset", "fingerprint" from ${this.table} where ${RANGE}`,
      rangeParams(range),
    );
    return rows
      .map((r) => ({
        cluster: r.cluster,
        coordinates: { topic: range.topic, partition: range.partition, offset: Number(r.offset) },
        ...(r.fingerprint ? { fingerprint: r.fingerprint } : {}),
      }))
      .sort(byOffsetThenCluster);
  }
}

/** Builds the where clause and parameters of a dead-letter filter. */
function deadLetterWhere(f: DeadLetterFilter): { where: string; params: unknown[] } {
  const params: unknown[] = [];
  const terms: string[] = [];
  const add = (sql: (n: number) => string, value: unknown) => {
    params.push(value);
    terms.push(sql(params.length));
  };
  if (f.topic) add((n) => `topic = $${n}`, f.topic);
  if (f.kind) add((n) => `error_kind = $${n}`, f.kind);
  if (f.since) add((n) => `failed_at >= $${n}`, f.since);
  if (f.until) add((n) => `failed_at < $${n}`, f.until);
  if (!f.includeReplayed) terms.push(PENDING_DEAD_LETTER);
  return { where: terms.length ? `where ${terms.join(' and ')}` : '', params };
}

/** The dead-letter table. */
export class PostgresDeadLetterInspector implements DeadLetterInspector {
  private readonly table: string;

  /** `pool` stays the caller's: this adapter never ends it. */
  constructor(
    private readonly pool: pg.Pool,
    tables: Tables,
  ) {
    this.table = qualified(tables, 'deadLetters');
  }

  private static toRecord(r: Record<string, unknown>): DeadLetterRecord {
    return {
      coordinates: coordinatesOf(r as never),
      keyBase64: (r.kafka_key_base64 as string | null) ?? null,
      valueBase64: (r.value_base64 as string | null) ?? null,
      headers: (r.headers as StoredHeader[]) ?? [],
      errorKind: r.error_kind as string,
      error: r.error as string,
      failedAt: r.failed_at as Date,
      replayedAt: (r.replayed_at as Date | null) ?? null,
      storedAt: (r.stored_at as Date | null) ?? null,
    };
  }

  async find(coordinates: readonly Coordinates[]): Promise<Map<string, DeadLetterRecord>> {
    if (coordinates.length === 0) return new Map();
    const rows = await rowsOf(
      this.pool,
      `select * from ${this.table} where ${IN_COORDINATES(1)}`,
      coordinateParams(coordinates),
    );
    return new Map(rows.map((r) => [recordId(coordinatesOf(r as never)), PostgresDeadLetterInspector.toRecord(r)]));
  }

  async list(filter: DeadLetterFilter): Promise<DeadLetterRecord[]> {
    const { where, params } = deadLetterWhere(filter);
    const limit = Math.min(Math.max(filter.limit ?? 100, 1), 1_000);
    const sql = `select * from ${this.table} ${where} order by failed_at desc, topic, partition, "offset" limit ${limit}`;
    return (await rowsOf(this.pool, sql, params)).map((r) => PostgresDeadLetterInspector.toRecord(r));
  }

  async countByKind(topic?: string): Promise<Record<string, number>> {
    const where = topic === undefined ? '' : 'where topic = $1';
    const sql = `select error_kind, count(*)::int as n from ${this.table} ${where} group by error_kind order by error_kind`;
    const rows = await rowsOf<{ error_kind: string; n: number }>(this.pool, sql, topic === undefined ? [] : [topic]);
    return Object.fromEntries(rows.map((r) => [r.error_kind, r.n]));
  }

  async offsetsIn(range: OffsetRange): Promise<number[]> {
    checkRange(range);
    const sql = `select distinct "offset" from ${this.table} where ${RANGE}`;
    return (await rowsOf<{ offset: string }>(this.pool, sql, rangeParams(range))).map((r) => Number(r.offset));
  }
}
