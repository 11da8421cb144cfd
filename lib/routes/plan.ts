/**
 * What a route of the sink file comes to once checked (pure): its record schema and the columns,
 * indexes and document fields derived from the schema's top-level properties. A plan is plain
 * JSON, so the build can write it into the bundle as it is.
 */
import type { SqlType } from '../records/record-type';

/** One column of a route's table, derived from one top-level property of its schema. */
export interface ColumnPlan {
  /** The schema's property. */
  property: string;
  /** The column's name. */
  column: string;
  sqlType: SqlType;
  notNull: boolean;
  /** A Postgres index on the column. */
  index: boolean;
  /**
   * Stored once, as this column and as a document field (a text column of a string property: the
   * value can be rebuilt from it byte for byte). Otherwise the column is a typed copy and the
   * property stays in `extra` (or `raw`) too.
   */
  field: boolean;
}

/** A checked route: everything the stores and the validator need. */
export interface RoutePlan {
  name: string;
  topic: string;
  mode: 'append';
  /** The record's JSON Schema (draft 2020-12), read from the file if it was given by path. */
  schema: Record<string, unknown>;
  postgres: { table: string; columns: ColumnPlan[] };
  /** `indexes`: document fields with an index, in the order of the file. */
  mongo: { collection: string; indexes: string[] };
}
