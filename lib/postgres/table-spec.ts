/**
 * One descriptor per Postgres table: it generates the DDL, the json_to_recordset field list and
 * the row mapping, so a column is written down once.
 */
import type { SqlType } from '../records/record-type';
import { ident } from './names';

export interface SqlColumn<S> {
  name: string;
  sqlType: SqlType;
  notNull?: boolean;
  /** Server-side default (SQL text). */
  default?: string;
  /** The value written for `source`; a column without it (or `fromSql`) is left to its default. */
  from?: (source: S) => unknown;
  /** Instead of `from`: an SQL expression over the other columns' incoming values (alias `x`). */
  fromSql?: string;
}

export interface SqlIndex {
  /** Suffix of the index name: `<table>_<name>_idx`. */
  name: string;
  columns: readonly string[];
}

export interface TableSpec<S> {
  columns: readonly SqlColumn<S>[];
  primaryKey: readonly string[];
  indexes?: readonly SqlIndex[];
  /**
   * An SQL predicate over a stored row `t` and an incoming row `x` with the same primary key that
   * is true when they are different records. With it, the insert reports such collisions.
   */
  differs?: string;
  /** What a conflict on the primary key does instead of nothing (`do update set … where …`); updated rows count as written. */
  onConflict?: (table: string) => string;
}

/** A row as json_to_recordset reads it: one JSON object per row, keyed by column name. */
export type SqlRow = Record<string, unknown>;

const fed = <S>(spec: TableSpec<S>) => spec.columns.filter((c) => c.from !== undefined);
const inserted = <S>(spec: TableSpec<S>) => spec.columns.filter((c) => c.from !== undefined || c.fromSql !== undefined);
const columnDdl = (c: SqlColumn<unknown>) =>
  `  ${ident(c.name)} ${c.sqlType}${c.notNull ? ' not null' : ''}${c.default ? ` default ${c.default}` : ''},`;
const list = (names: readonly string[]) => names.map(ident).join(', ');

/** Makes the primary key of an existing table `columns` (a later version widened the identity). */
function primaryKeyMigration(qualifiedName: string, columns: readonly string[]): string {
  return `do $$
declare pk name; cols text;
begin
  select c.conname, string_agg(a.attname, ',' order by k.ord) into pk, cols
    from pg_constraint c cross join unnest(c.conkey) with ordinality k(attnum, ord)
    join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.attnum
    where c.conrelid = '${qualifiedName}'::regclass and c.contype = 'p' group by c.conname;
  if cols is distinct from '${columns.join(',')}' then
    if pk is not null then execute format('alter table ${qualifiedName} drop constraint %I', pk); end if;
    alter table ${qualifiedName} add primary key (${list(columns)});
  end if;
end $$;`;
}

/** `create table if not exists` plus its indexes; `qualifiedName` is `"schema"."table"`, `table` the bare name. */
export function createTableSql<S>(qualifiedName: string, table: string, spec: TableSpec<S>): string {
  const columns = spec.columns;
  // Columns a later version added reach existing tables too (nullable or with a default).
  const added = columns.filter((c) => !c.notNull || c.default);
  return [
    `create table if not exists ${qualifiedName} (`,
    ...columns.map((c) => columnDdl(c as SqlColumn<unknown>)),
    `  primary key (${list(spec.primaryKey)})`,
    ');',
    ...added.map(
      (c) =>
        `alter table ${qualifiedName} add column if not exists ${columnDdl(c as SqlColumn<unknown>)
          .trim()
          .slice(0, -1)};`,
    ),
    primaryKeyMigration(qualifiedName, spec.primaryKey),
    ...(spec.indexes ?? []).map(
      (i) => `create index if not exists ${ident(`${table}_${i.name}_idx`)} on ${qualifiedName} (${list(i.columns)});`,
    ),
  ].join('\n');
}

/**
 * The insert of a chunk: rows from one JSON parameter via json_to_recordset, `on conflict do
 * nothing` on the primary key. One round trip and one bind parameter whatever the chunk size.
 * Returns one row: `written`, the number of rows that were new, and `collisions`, the 0-based
 * positions of incoming rows whose key was taken by a different record (with `spec.differs`).
 */
export function insertSql<S>(qualifiedName: string, spec: TableSpec<S>): string {
  const incoming = fed(spec);
  const fields = incoming.map((c) => `${ident(c.name)} ${c.sqlType}`).join(', ');
  const targets = inserted(spec);
  const values = targets.map((c) => c.fromSql ?? `x.${ident(c.name)}`).join(', ');
  const key = list(spec.primaryKey);
  const sameKey = spec.primaryKey.map((k) => `t.${ident(k)} = x.${ident(k)}`).join(' and ');
  // Every part of the statement sees the table as it was before the insert: the join finds
  // exactly the rows that were there already.
  const collisions = spec.differs
    ? `(select json_agg(x."n" - 1) from x join ${qualifiedName} t on ${sameKey} where ${spec.differs})`
    : 'null';
  return [
    `with x as (select * from rows from (json_to_recordset($1::json) as (${fields})) with ordinality as x(${list(incoming.map((c) => c.name))}, "n")),`,
    `w as (insert into ${qualifiedName} (${list(targets.map((c) => c.name))}) select ${values} from x`,
    `  on conflict (${key}) ${spec.onConflict?.(qualifiedName) ?? 'do nothing'} returning 1)`,
    `select (select count(*) from w)::int as written, coalesce(${collisions}, '[]'::json) as collisions`,
  ].join('\n');
}

/**
 * The plain insert of a chunk: rows from one JSON parameter (without the comparison fields), `on
 * conflict do nothing`; its row count is the number of rows that were new. The fast path: when it
 * is less than the chunk, {@link insertSql} settles the rest (present, collision, or new after all).
 */
export function fastInsertSql<S>(qualifiedName: string, spec: TableSpec<S>): string {
  const incoming = inserted(spec);
  const fields = incoming.map((c) => `${ident(c.name)} ${c.sqlType}`).join(', ');
  const names = list(incoming.map((c) => c.name));
  const values = incoming.map((c) => c.fromSql ?? `x.${ident(c.name)}`).join(', ');
  return `insert into ${qualifiedName} (${names}) select ${values} from json_to_recordset($1::json) as x(${fields}) on conflict (${list(spec.primaryKey)}) do nothing`;
}

/**
 * A maker of rows of `spec`: every column that has a `from`. Null values are left out:
 * json_to_recordset reads a missing field as null.
 */
export function rowMaker<S>(spec: TableSpec<S>): (source: S) => SqlRow {
  const columns = spec.columns.filter((c) => c.from);
  const names = columns.map((c) => c.name);
  const from = columns.map((c) => c.from as (s: S) => unknown);
  return (source) => {
    const row: SqlRow = {};
    for (let i = 0; i < names.length; i++) {
      const v = from[i](source);
      if (v !== null) row[names[i]] = v;
    }
    return row;
  };
}

/** The row of `source` (see {@link rowMaker}; made once per table where it matters). */
export const toRow = <S>(spec: TableSpec<S>, source: S): SqlRow => rowMaker(spec)(source);

/**
 * `COPY … FROM STDIN` (text format) into the columns the plain insert writes, or undefined when a
 * column is computed in SQL (`fromSql`), which COPY cannot do.
 */
export function copySql<S>(qualifiedName: string, spec: TableSpec<S>): string | undefined {
  const columns = inserted(spec);
  if (columns.some((c) => c.from === undefined)) return undefined;
  return `copy ${qualifiedName} (${list(columns.map((c) => c.name))}) from stdin`;
}

/** COPY's text format escapes these four; everything else goes as it is. */
const COPY_SPECIAL = /[\\\n\r\t]/;
const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };
const escapeCopy = (s: string) => (COPY_SPECIAL.test(s) ? s.replace(/[\\\n\r\t]/g, (ch) => COPY_ESCAPES[ch]) : s);

/**
 * A value of a json column (and any object elsewhere) as its JSON. `JSON.stringify` writes no
 * newline, carriage return or tab (it escapes them): only its backslashes need doubling.
 */
function copyJson(v: unknown): string {
  if (v === null || v === undefined) return '\\N';
  const json = JSON.stringify(v);
  return json.includes('\\') ? json.replace(/\\/g, '\\\\') : json;
}

/**
 * A value as COPY's text format reads it for a column of `type`, read the way json_to_recordset
 * reads the same value from the row's JSON (so both paths store the same): json columns get the
 * value's JSON, numbers that JSON cannot hold are null, objects in other columns their JSON.
 */
export function copyField(type: SqlType, v: unknown): string {
  if (v === null || v === undefined) return '\\N';
  if (type === 'json' || type === 'jsonb') return copyJson(v);
  switch (typeof v) {
    case 'string':
      return escapeCopy(v);
    case 'number':
      return Number.isFinite(v) ? String(v) : '\\N';
    case 'boolean':
      return v ? 't' : 'f';
    case 'bigint':
      return String(v);
    default:
      return copyJson(v);
  }
}

/** {@link copyField} for one column, with the common case of a text column's string first. */
function copyEncoder(type: SqlType): (v: unknown) => string {
  if (type === 'json' || type === 'jsonb') return copyJson;
  return (v) => (typeof v === 'string' ? escapeCopy(v) : copyField(type, v));
}

/**
 * A maker of COPY text lines of `spec` (the columns of {@link copySql}, in order): one line per
 * source, each ending in a newline.
 */
export function copyLineMaker<S>(spec: TableSpec<S>): (source: S) => string {
  const columns = inserted(spec);
  const from = columns.map((c) => c.from as (s: S) => unknown);
  const encode = columns.map((c) => copyEncoder(c.sqlType));
  const last = columns.length - 1;
  // One loop over two arrays: a closure per column that did both cost a fifth more.
  return (source) => {
    let line = '';
    for (let i = 0; i < last; i++) line += `${encode[i](from[i](source))}\t`;
    return `${line}${encode[last](from[last](source))}\n`;
  };
}
