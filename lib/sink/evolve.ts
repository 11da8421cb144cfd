/**
 * Additive schema evolution (pure): what a route's new schema asks of records stored before it, and
 * what it may not ask.
 *
 * A stored record keeps every byte of its value (its type's fields, `extra`, or the raw text), so
 * when a route's schema gains an optional property, the rows and documents written before can be
 * given it from what they keep: the text is rebuilt under the new type (the new field, still
 * empty, is left out, so the text is exactly the old one) and split again. Changes that would lose
 * or misread what is stored (a type change, a removed or renamed column or field, a new required
 * property) are refused, never applied.
 */
import type { Column, SqlType } from '../records/record-type';
import { QuotesSinkError } from '../errors';
import { rebuildText, splitValue, type ValueParts } from './value-parts';

/** What a stored row or document keeps of a value: its type's fields (by field name), `extra`, the raw text. */
export interface StoredValue {
  fields: Readonly<Record<string, unknown>>;
  extra?: Readonly<Record<string, unknown>> | null;
  raw?: string | null;
}

/** The value's text a stored record stands for, under the type's field `names` (`raw` where kept). */
export function storedText(names: readonly string[], stored: StoredValue): string {
  return typeof stored.raw === 'string' ? stored.raw : rebuildText(names, stored.fields, stored.extra);
}

/** A stored value split again under the type's field `names`, with the parsed value the new columns are taken from. */
export function resplit(names: readonly string[], stored: StoredValue): { parts: ValueParts; value: unknown } {
  const text = storedText(names, stored);
  // A raw text may start with a byte-order mark (it is part of the bytes); JSON.parse refuses it.
  const value: unknown = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  return { parts: splitValue(names, value, text), value };
}

const isObject = (v: unknown) => typeof v === 'object' && v !== null;

/** For each SQL type, the JSON values a column of it can hold as they are. */
const FITS: Record<SqlType, (v: unknown) => boolean> = {
  text: (v) => typeof v === 'string',
  integer: (v) => Number.isInteger(v) && Math.abs(v as number) <= 2_147_483_647,
  bigint: (v) => Number.isSafeInteger(v),
  'double precision': (v) => typeof v === 'number' && Number.isFinite(v),
  boolean: (v) => typeof v === 'boolean',
  timestamptz: (v) => typeof v === 'string' && !Number.isNaN(Date.parse(v)),
  json: isObject,
  jsonb: isObject,
};

/** Whether a JSON value can be stored in a column of `sqlType` as it is (else the column stays empty). */
export const fitsColumn = (sqlType: SqlType, v: unknown): boolean => FITS[sqlType](v);

/** A column as the database has it: its name and its type as `format_type` spells it. */
export interface ExistingColumn {
  name: string;
  type: string;
}

/** A route's column as it should be: name, SQL type, and whether its property is required by the schema. */
export interface WantedColumn {
  name: string;
  sqlType: SqlType;
  /** The schema's property (a route column); undefined for the sink's own columns. */
  property?: string;
  required?: boolean;
}

/** What evolving a table to a route's columns would do: the columns to add, or why it may not. */
export interface ColumnChanges {
  added: WantedColumn[];
  problems: string[];
}

/** `format_type`'s spelling of each SQL type the sink uses. */
const CATALOGUE_TYPE: Record<SqlType, string> = {
  text: 'text',
  integer: 'integer',
  bigint: 'bigint',
  boolean: 'boolean',
  'double precision': 'double precision',
  json: 'json',
  jsonb: 'jsonb',
  timestamptz: 'timestamp with time zone',
};

const what = (c: WantedColumn) => (c.property ? `property ${c.property} (column ${c.name})` : `column ${c.name}`);

/**
 * Compares an existing table with the columns a route wants. An empty `existing` is a table that
 * is not there yet: nothing to evolve. Problems name the route and the property, one line each.
 */
export function columnChanges(
  route: string,
  wanted: readonly WantedColumn[],
  existing: readonly ExistingColumn[],
): ColumnChanges {
  if (existing.length === 0) return { added: [], problems: [] };
  const have = new Map(existing.map((c) => [c.name, c.type]));
  const want = new Set(wanted.map((c) => c.name));
  const problems: string[] = [];
  const added: WantedColumn[] = [];
  for (const c of wanted) {
    const type = have.get(c.name);
    if (type === undefined) {
      if (c.required)
        problems.push(`route ${route}: ${what(c)} is new and required: the records stored before lack it`);
      else added.push(c);
    } else if (type !== CATALOGUE_TYPE[c.sqlType]) {
      problems.push(`route ${route}: ${what(c)} is ${type} in the table, the schema makes it ${c.sqlType}`);
    }
  }
  for (const c of existing) {
    if (!want.has(c.name))
      problems.push(`route ${route}: column ${c.name} is in the table but not in the schema (removed or renamed?)`);
  }
  return { added, problems };
}

/**
 * Compares the fields a route's documents were stored with (`applied`, undefined when unknown)
 * with the type's fields now: the new ones are to be moved out of `extra`; one no longer a field
 * (removed, renamed, or no longer a string) would be lost from the rebuilt text, so it is refused.
 */
export function fieldChanges(
  route: string,
  names: readonly string[],
  applied: readonly string[] | undefined,
): { added: string[]; problems: string[] } {
  if (applied === undefined) return { added: [...names], problems: [] };
  const problems = applied
    .filter((f) => !names.includes(f))
    .map((f) => `route ${route}: field ${f} of the stored documents is not a text field of the schema any more`);
  return { added: names.filter((n) => !applied.includes(n)), problems };
}

/** A route's schema changed in a way the stores cannot follow; never retried, never applied. */
export class SchemaEvolutionError extends QuotesSinkError {
  constructor(
    readonly route: string,
    readonly store: string,
    readonly problems: readonly string[],
  ) {
    super(`${store}: refusing to evolve: ${problems.join('; ')}`, { retriable: false });
  }
}

/** What a backfill reports after each batch. */
export interface BackfillProgress {
  /** The table or collection. */
  table: string;
  /** The columns or fields being filled. */
  columns: readonly string[];
  /** Rows looked at so far, and how many of them were given a value. */
  scanned: number;
  filled: number;
}

/** Options of an evolution: its batch size and where progress goes. */
export interface EvolutionOptions {
  batch?: number;
  onProgress?: (p: BackfillProgress) => void;
}

/** The route columns of a record type as {@link WantedColumn}s. */
export const wantedOf = <T>(columns: readonly Column<T>[]): WantedColumn[] =>
  columns.map((c) => ({ name: c.name, sqlType: c.sqlType, property: c.property ?? c.field, required: c.required }));
