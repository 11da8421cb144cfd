/**
 * PostgreSQL identifiers: the one place table names are validated, quoted and qualified with their
 * schema. Every caller (sink, CLIs, bench, soak, demo, tests) goes through here, so
 * POSTGRES_SCHEMA is honoured everywhere.
 */
import { IDENTIFIER, type Config } from '../config';
import { QuotesSinkError } from '../errors';

/** Quotes an identifier after checking it against {@link IDENTIFIER}; throws for anything else. */
export function ident(name: string): string {
  if (!IDENTIFIER.test(name)) throw new QuotesSinkError(`refusing unsafe SQL identifier ${JSON.stringify(name)}`);
  return `"${name}"`;
}

/** The sink's tables: a schema, the records table and the dead-letter table. */
export interface Tables {
  schema: string;
  records: string;
  deadLetters: string;
}

/** The tables named by the configuration. */
export const tablesFrom = (
  c: Pick<Config, 'POSTGRES_SCHEMA' | 'POSTGRES_QUOTES_TABLE' | 'POSTGRES_DEAD_LETTER_TABLE'>,
): Tables => ({
  schema: c.POSTGRES_SCHEMA,
  records: c.POSTGRES_QUOTES_TABLE,
  deadLetters: c.POSTGRES_DEAD_LETTER_TABLE,
});

/** The sink's tables: records, dead letters, and the tombstones applied (named after the dead letters). */
export type TableRole = 'records' | 'deadLetters' | 'tombstones' | 'clusters';

/** The bare name of one of the sink's tables. */
export const tableName = (t: Tables, which: TableRole): string =>
  which === 'tombstones' || which === 'clusters' ? `${t.deadLetters}_${which}` : t[which];

/** `"schema"."table"` for one of the sink's tables, e.g. `qualified(tables, 'records')`. */
export const qualified = (t: Tables, which: TableRole): string => `${ident(t.schema)}.${ident(tableName(t, which))}`;

/** {@link qualified} straight from the configuration. */
export const qualifiedTable = (c: Config, which: TableRole): string => qualified(tablesFrom(c), which);
