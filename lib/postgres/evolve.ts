/**
 * Additive evolution of a records table (lib/sink/evolve.ts says what may change): a route's new
 * optional property becomes a column, and the rows written before get it from what they keep.
 *
 * A column added to a table that holds rows is marked, in the same transaction, with a comment
 * ({@link PENDING}); the backfill goes through the table in batches by primary key, each batch one
 * statement, and clears the mark at the end. So a backfill killed halfway is taken up again by the
 * next `migrate` or cold start, and one run again is a no-op.
 */
import type pg from 'pg';
import type { RecordType } from '../records/record-type';
import { typeFields } from '../records/record-type';
import {
  columnChanges,
  fitsColumn,
  resplit,
  SchemaEvolutionError,
  type BackfillProgress,
  type EvolutionOptions,
  type ExistingColumn,
  type WantedColumn,
} from '../sink/evolve';
import { ident } from './names';
import { recordsTable, IDENTITY } from './tables';

/** The comment on a column whose rows are still to be filled. */
export const PENDING = 'quotes-sink: backfill pending';

/** Rows a backfill statement updates at most. */
export const BACKFILL_BATCH = 1_000;

const EXISTING = [
  'select a.attname as name, format_type(a.atttypid, a.atttypmod) as type, col_description(a.attrelid, a.attnum) as note',
  'from pg_attribute a where a.attrelid = to_regclass($1) and a.attnum > 0 and not a.attisdropped order by a.attnum',
].join(' ');

type Queryable = Pick<pg.Pool, 'query'> | Pick<pg.PoolClient, 'query'>;

/** A stored row as the backfill reads it. */
type Row = Record<string, unknown>;

/** One records table and the route it follows. */
export class PostgresEvolution<T> {
  private readonly wanted: WantedColumn[];
  private readonly names: string[];
  /** The type's text fields and their columns, for rebuilding a row's text. */
  private readonly fieldColumns: { field: string; column: string }[];
  private readonly route: string;

  /** `table` is `"schema"."table"`. */
  constructor(
    private readonly table: string,
    private readonly type: RecordType<T>,
  ) {
    const own = new Map(type.columns.map((c) => [c.name, c]));
    this.wanted = recordsTable(type).columns.map((c) => {
      const rc = own.get(c.name);
      return { name: c.name, sqlType: c.sqlType, property: rc?.property ?? rc?.field, required: rc?.required };
    });
    this.names = typeFields(type);
    this.fieldColumns = type.columns.flatMap((c) => (c.field ? [{ field: c.field, column: c.name }] : []));
    this.route = type.route ?? type.name;
  }

  private async existing(db: Queryable): Promise<(ExistingColumn & { note: string | null })[]> {
    const r = await db.query<ExistingColumn & { note: string | null }>(EXISTING, [this.table]);
    return r.rows;
  }

  /**
   * Checks the table against the route before any DDL: throws {@link SchemaEvolutionError} for a
   * change it cannot follow; returns the columns the DDL will add to a table that exists, and
   * those an earlier backfill left to fill.
   */
  async check(db: Queryable): Promise<{ added: string[]; pending: string[] }> {
    const existing = await this.existing(db);
    const changes = this.changes(existing);
    if (changes.problems.length > 0) throw new SchemaEvolutionError(this.route, 'postgres', changes.problems);
    const pending = existing.filter((c) => c.note === PENDING).map((c) => c.name);
    return { added: changes.added.map((c) => c.name), pending };
  }

  private changes(existing: readonly ExistingColumn[]) {
    return columnChanges(this.route, this.wanted, existing);
  }

  /** What {@link check} would refuse, one line each, changing nothing (`npm run doctor -- --stores`). */
  async problems(db: Queryable): Promise<string[]> {
    return this.changes(await this.existing(db)).problems;
  }

  /** Marks `columns` (just added, in the caller's transaction) as still to be filled. */
  async markPending(db: Queryable, columns: readonly string[]): Promise<void> {
    for (const c of columns) await db.query(`comment on column ${this.table}.${ident(c)} is '${PENDING}'`);
  }

  /** The columns marked {@link PENDING}. */
  async pending(db: Queryable): Promise<string[]> {
    return (await this.existing(db)).filter((c) => c.note === PENDING).map((c) => c.name);
  }

  /** Fills the pending columns of every row written before them, in batches; returns the rows given a value. */
  async backfill(db: Queryable, options: EvolutionOptions = {}): Promise<number> {
    const columns = await this.pending(db);
    if (columns.length === 0) return 0;
    const batch = options.batch ?? BACKFILL_BATCH;
    const progress: BackfillProgress = { table: this.table, columns, scanned: 0, filled: 0 };
    for (let after: Row | undefined; ;) {
      const rows = await this.candidates(db, columns, after, batch);
      if (rows.length === 0) break;
      const updates = rows.flatMap((r) => this.updateOf(r, columns));
      if (updates.length > 0) await db.query(this.updateSql(columns), [JSON.stringify(updates)]);
      progress.scanned += rows.length;
      progress.filled += updates.length;
      options.onProgress?.({ ...progress });
      after = rows[rows.length - 1];
    }
    for (const c of columns) await db.query(`comment on column ${this.table}.${ident(c)} is null`);
    return progress.filled;
  }

  /** The next rows after `after` (by primary key) that may hold a value for an empty pending column. */
  private async candidates(db: Queryable, columns: readonly string[], after: Row | undefined, batch: number) {
    const key = IDENTITY.map(ident).join(', ');
    const empty = columns.map((c) => `${ident(c)} is null`).join(' or ');
    const from = after ? `and (${key}) > ($2, $3, $4, $5)` : '';
    const params: unknown[] = [batch];
    if (after) params.push(...IDENTITY.map((k) => after[k]));
    const sql = [
      `select * from ${this.table} where (${empty}) and ("extra" is not null or "raw_value" is not null)`,
      `${from} order by ${key} limit $1`,
    ].join(' ');
    return (await db.query<Row>(sql, params)).rows;
  }

  /** A row's new parts and pending columns, or nothing when it has no value for them. */
  private updateOf(row: Row, columns: readonly string[]): Row[] {
    const fields = Object.fromEntries(this.fieldColumns.map((f) => [f.field, row[f.column]]));
    const { parts, value } = resplit(this.names, {
      fields,
      extra: row.extra as Row | null,
      raw: row.raw_value as string,
    });
    const out: Row = {};
    for (const name of columns) {
      const v = this.columnValue(name, parts.fields, value);
      if (v !== undefined) out[name] = v;
    }
    if (Object.keys(out).length === 0) return [];
    for (const k of IDENTITY) out[k] = row[k];
    return [{ ...out, extra: parts.extra ?? null, raw_value: parts.raw ?? null }];
  }

  /** Column `name`'s value from a split value: its text field, or its typed copy when it fits; else undefined. */
  private columnValue(name: string, fields: Readonly<Record<string, string>>, value: unknown): unknown {
    const c = this.type.columns.find((x) => x.name === name);
    if (!c) return undefined;
    if (c.field) return fields[c.field];
    const v = typeof value === 'object' && value !== null ? c.from(value as T) : undefined;
    return v !== undefined && v !== null && fitsColumn(c.sqlType, v) ? v : undefined;
  }

  private updateSql(columns: readonly string[]): string {
    const types = new Map(this.wanted.map((c) => [c.name, c.sqlType]));
    const fed = [...IDENTITY, ...columns, 'extra', 'raw_value'];
    const spec = fed.map((c) => `${ident(c)} ${c === 'extra' ? 'json' : c === 'raw_value' ? 'text' : types.get(c)}`);
    // A column another batch or writer filled meanwhile keeps its value.
    const sets = [...columns.map((c) => `${ident(c)} = coalesce(t.${ident(c)}, x.${ident(c)})`), '"extra" = x."extra"'];
    return [
      `update ${this.table} t set ${[...sets, '"raw_value" = x."raw_value"'].join(', ')}`,
      `from json_to_recordset($1::json) as x(${spec.join(', ')})`,
      `where ${IDENTITY.map((k) => `t.${ident(k)} = x.${ident(k)}`).join(' and ')}`,
    ].join(' ');
  }
}
