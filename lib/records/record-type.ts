/**
 * A record type: how a decoded JSON value is validated and mapped to a Postgres row and a Mongo
 * document. Adding another type is one new module implementing this: both stores take their
 * columns, fields and indexes from it.
 */
import type { z } from 'zod';

/** SQL types a column may have (they are also the json_to_recordset field types that feed it). */
export type SqlType = 'text' | 'integer' | 'bigint' | 'boolean' | 'double precision' | 'jsonb' | 'timestamptz';

export interface Column<T> {
  /** SQL column name (lower-case identifier). */
  name: string;
  sqlType: SqlType;
  notNull?: boolean;
  /** The column's value for a validated record. */
  from: (value: T) => unknown;
}

/** A secondary index on the type's own data, in both stores. */
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
  /** Validates a decoded JSON value; unknown fields are kept (passthrough). */
  schema: z.ZodType<T, z.ZodTypeDef, unknown>;
  /** The type's own columns; coordinates, key, headers, payload and times are added by the sink. */
  columns: readonly Column<T>[];
  /** The type's own fields of the Mongo document. */
  toDocument: (value: T) => Record<string, unknown>;
  indexes?: readonly RecordIndex[];
}
