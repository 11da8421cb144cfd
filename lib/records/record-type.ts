/**
 * A record type: how a decoded JSON value is validated and mapped to a Postgres row and a Mongo
 * document. Adding another type is one new module implementing this, nothing else.
 */
import type { z } from 'zod';

export interface Column<T> {
  /** SQL column name (lower-case identifier). */
  name: string;
  /** SQL type of the column (and of the json_to_recordset field that feeds it). */
  sqlType: 'text' | 'integer' | 'bigint' | 'boolean' | 'double precision' | 'jsonb' | 'timestamptz';
  notNull?: boolean;
  /** The column's value for a validated record. */
  from(value: T): unknown;
}

export interface RecordType<T> {
  /** Short name, used in logs. */
  name: string;
  /** Validates a decoded JSON value; unknown fields are kept (passthrough). */
  schema: z.ZodType<T, z.ZodTypeDef, unknown>;
  /** The type's own columns; coordinates, key, headers, payload and times are added by the sink. */
  columns: Column<T>[];
  /** The type's own fields of the Mongo document. */
  toDocument(value: T): Record<string, unknown>;
  /** Extra SQL indexes: [name suffix, column list]. */
  indexes?: [string, string][];
}
