/** PostgreSQL read adapters: the records table and the dead-letter table, looked at, never written. */
import type pg from 'pg';
import type { Coordinates } from '../event/coordinates';
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
import {
  deadLetterSql,
  deadLettersById,
  toDeadLetterRecord,
  type DeadLetterTableRow,
  type Query,
} from './dead-letters';
import { IN_COORDINATES, RANGE } from './where';
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

/** The dead-letter table: its statements and rows are dead-letters.ts's. */
export class PostgresDeadLetterInspector implements DeadLetterInspector {
  private readonly sql: ReturnType<typeof deadLetterSql>;

  /** `pool` stays the caller's: this adapter never ends it. */
  constructor(
    private readonly pool: pg.Pool,
    tables: Tables,
  ) {
    this.sql = deadLetterSql(qualified(tables, 'deadLetters'));
  }

  private rows<R extends pg.QueryResultRow = DeadLetterTableRow>(q: Query): Promise<R[]> {
    return rowsOf<R>(this.pool, q.sql, q.params);
  }

  async find(coordinates: readonly Coordinates[]): Promise<Map<string, DeadLetterRecord>> {
    if (coordinates.length === 0) return new Map();
    return deadLettersById(await this.rows(this.sql.find(coordinates)));
  }

  async list(filter: DeadLetterFilter): Promise<DeadLetterRecord[]> {
    return (await this.rows(this.sql.list(filter))).map(toDeadLetterRecord);
  }

  async countByKind(topic?: string): Promise<Record<string, number>> {
    const rows = await this.rows<{ error_kind: string; n: number }>(this.sql.countByKind(topic));
    return Object.fromEntries(rows.map((r) => [r.error_kind, r.n]));
  }

  async offsetsIn(range: OffsetRange): Promise<number[]> {
    checkRange(range);
    return (await this.rows<{ offset: string }>(this.sql.offsetsIn(range))).map((r) => Number(r.offset));
  }
}
