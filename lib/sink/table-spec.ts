/**
 * One descriptor per Postgres table: it generates the DDL, the json_to_recordset field list and
 * the row mapping, so a column is written down once.
 */
import type { SqlType } from '../records/record-type';
import { ident } from './tables';

export interface SqlColumn<S> {
  name: string;
  sqlType: SqlType;
  notNull?: boolean;
  /** Server-side default (SQL text). */
  default?: string;
  /** The value written for `source`; a column without it is left to its default. */
  from?: (source: S) => unknown;
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
}

/** A row as json_to_recordset reads it: one JSON object per row, keyed by column name. */
export type SqlRow = Record<string, unknown>;

const written = <S>(spec: TableSpec<S>) => spec.columns.filter((c) => c.from !== undefined);
const columnDdl = (c: SqlColumn<unknown>) =>
  `  ${ident(c.name)} ${c.sqlType}${c.notNull ? ' not null' : ''}${c.default ? ` default ${c.default}` : ''},`;
const list = (names: readonly string[]) => names.map(ident).join(', ');

/** `create table if not exists` plus its indexes; `qualifiedName` is `"schema"."table"`, `table` the bare name. */
export function createTableSql<S>(qualifiedName: string, table: string, spec: TableSpec<S>): string {
  return [
    `create table if not exists ${qualifiedName} (`,
    ...spec.columns.map((c) => columnDdl(c as SqlColumn<unknown>)),
    `  primary key (${list(spec.primaryKey)})`,
    ');',
    ...(spec.indexes ?? []).map(
      (i) => `create index if not exists ${ident(`${table}_${i.name}_idx`)} on ${qualifiedName} (${list(i.columns)});`,
    ),
  ].join('\n');
}

/**
 * The insert of a chunk: rows from one JSON parameter via json_to_recordset, `on conflict do
 * nothing` on the primary key. One round trip and one bind parameter whatever the chunk size.
 * Returns one row: `written`, the number of rows that were new.
 */
export function insertSql<S>(qualifiedName: string, spec: TableSpec<S>): string {
  const cols = written(spec);
  const names = list(cols.map((c) => c.name));
  const fields = cols.map((c) => `${ident(c.name)} ${c.sqlType}`).join(', ');
  return [
    'with w as (',
    `  insert into ${qualifiedName} (${names})`,
    `  select ${names} from json_to_recordset($1::json) as x(${fields})`,
    `  on conflict (${list(spec.primaryKey)}) do nothing returning 1`,
    ')',
    'select count(*)::int as written from w',
  ].join('\n');
}

/** The row of `source`: every column that has a `from`. */
export function toRow<S>(spec: TableSpec<S>, source: S): SqlRow {
  const row: SqlRow = {};
  for (const c of spec.columns) if (c.from) row[c.name] = c.from(source);
  return row;
}
