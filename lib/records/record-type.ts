/**
 * A record type: how a decoded JSON value is validated and mapped to a Postgres row and a Mongo
 * document. Adding another type is one new module implementing this: both stores take their
 * columns, fields and indexes from it.
 */
import type { z } from 'zod';

/** SQL types a column may have (they are also the json_to_recordset field types that feed it). */
export type SqlType = 'text' | 'integer' | 'bigint' | 'boolean' | 'double precision' | 'json' | 'jsonb' | 'timestamptz';

export interface Column<T> {
  /** SQL column name (lower-case identifier). */
  name: string;
  sqlType: SqlType;
  notNull?: boolean;
  /**
   * The value's own top-level string field this column holds as is (e.g. `characterDirection`). Such
   * a field is stored once: as this column, and as a Mongo document field of the same name; the
   * value's other fields are kept together (`extra`).
   */
  field?: string;
  /** The column's value for a validated record (a column with a `field` holds that field instead). */
  from: (value: T) => unknown;
  /** The schema's top-level property the column is derived from (a route's columns). */
  property?: string;
  /** Whether the schema requires that property: a new required property cannot be evolved into. */
  required?: boolean;
}

/** A secondary index on the type's own data, in both stores (or in one: the other's list is empty). */
export interface RecordIndex {
  /** Index name suffix (Postgres: `<table>_<name>_idx`). */
  name: string;
  /** Postgres column names. */
  columns: readonly string[];
  /** Mongo document field paths. */
  fields: readonly string[];
}

export interface RecordType<T> {
  /** Short name, used in logs. */
  name: string;
  /** The sink file's route the type is made from, if any (named in errors). */
  route?: string;
  /** Validates a decoded JSON value; unknown fields are kept (passthrough). */
  schema: z.ZodType<T, z.ZodTypeDef, unknown>;
  /**
   * Optional: a quick check that accepts only values `schema` accepts and returns unchanged (the
   * usual valid record), so validating it takes no schema run and no copy. A value it does not
   * accept goes through `schema`, which says what is wrong.
   */
  accepts?: (value: unknown) => value is T;
  /**
   * The type's own columns; coordinates, key, headers, the value's other fields and times are added
   * by the sink. Those with a `field` are also the Mongo document's own fields (named after the
   * field; not `_id`, `extra`, `raw`, `kafka`, `ingestedAt` or `payload`).
   */
  columns: readonly Column<T>[];
  indexes?: readonly RecordIndex[];
}

/** The value's fields a record type stores as they are (its columns' `field`s), in column order. */
export const typeFields = (type: Pick<RecordType<never>, 'columns'>): string[] =>
  type.columns.flatMap((c) => (c.field ? [c.field] : []));
