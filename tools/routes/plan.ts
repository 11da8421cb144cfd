/**
 * Deriving a route's plan from its schema and the sink file's overrides (pure): the checks a JSON
 * Schema of the file cannot express. Used by the loader (./load.ts) at build and load time.
 */
import { IDENTIFIER } from '../../lib/config';
import type { SqlType } from '../../lib/records/record-type';
import type { ColumnPlan } from '../../lib/routes/plan';

/** A column override as the sink file gives it (`postgres.columns.<property>`). */
export interface ColumnOverride {
  column?: string;
  type?: SqlType;
  index?: boolean;
  notNull?: boolean;
  extra?: boolean;
}

/** A problem found in a route: where (a path below the route) and what. */
export interface RouteProblem {
  path: (string | number)[];
  message: string;
}

/** JSON types a property may have, and the SQL types each may be stored as (the first is the default). */
const SQL_TYPES_OF: Readonly<Record<string, readonly SqlType[]>> = {
  string: ['text', 'jsonb', 'json'],
  integer: ['bigint', 'integer', 'double precision', 'jsonb', 'json'],
  number: ['double precision', 'jsonb', 'json'],
  boolean: ['boolean', 'jsonb', 'json'],
  object: ['jsonb', 'json'],
  array: ['jsonb', 'json'],
};

/** Document fields the sink writes itself (lib/sink/model.ts toDocument): no property may be stored as one. */
const DOCUMENT_FIELDS = new Set(['_id', 'extra', 'raw', 'kafka', 'ingestedAt', 'payload']);

/** A property as a column name: `characterDirection` → `character_direction`. */
export const snakeCase = (property: string): string => property.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The property's JSON type less `null`, and whether it may be null; `types` empty when it has no `type`. */
function jsonTypes(property: Record<string, unknown>): { types: string[]; nullable: boolean } {
  const t = property.type;
  const all = typeof t === 'string' ? [t] : Array.isArray(t) ? t.filter((x): x is string => typeof x === 'string') : [];
  return { types: all.filter((x) => x !== 'null'), nullable: all.includes('null') || all.length === 0 };
}

/** The SQL types a property may be stored as; a date-time string may be a timestamptz as well. */
function allowedTypes(jsonType: string, property: Record<string, unknown>): readonly SqlType[] {
  const allowed = SQL_TYPES_OF[jsonType] ?? [];
  return jsonType === 'string' && property.format === 'date-time' ? ['timestamptz', ...allowed] : allowed;
}

/** The SQL type of a property's column: the override if the property's type allows it, else the default. */
function sqlTypeOf(
  name: string,
  property: Record<string, unknown>,
  types: readonly string[],
  override: SqlType | undefined,
): { sqlType?: SqlType; problem?: RouteProblem } {
  if (types.length !== 1 && !override) {
    const what = types.length ? `types ${types.join(', ')}` : 'no type';
    const message = `a column cannot be derived from ${what}: give postgres.columns.${name}.type (or extra: true)`;
    return { problem: { path: ['schema', 'properties', name, 'type'], message } };
  }
  if (types.length !== 1) return { sqlType: override };
  const allowed = allowedTypes(types[0], property);
  const sqlType = override ?? allowed[0];
  if (allowed.includes(sqlType)) return { sqlType };
  const what = `${types[0]}${property.format ? ` (${String(property.format)})` : ''}`;
  const message = `a ${what} property cannot be a ${sqlType} column (allowed: ${allowed.join(', ')})`;
  return { problem: { path: ['postgres', 'columns', name, 'type'], message } };
}

/** What is wrong with a column's name, its notNull and (for a field) the document field it becomes. */
function columnProblems(c: ColumnPlan, o: ColumnOverride, canBeMissing: boolean): RouteProblem[] {
  const at = ['postgres', 'columns', c.property];
  const problems: RouteProblem[] = [];
  if (!IDENTIFIER.test(c.column))
    problems.push({
      path: o.column ? [...at, 'column'] : ['schema', 'properties', c.property],
      message: `column name "${c.column}" is not a legal identifier (lower-case letters, digits, _): give postgres.columns.${c.property}.column`,
    });
  if (o.notNull && canBeMissing)
    problems.push({
      path: [...at, 'notNull'],
      message:
        'notNull needs a required property that cannot be null (records without it would be refused by the table)',
    });
  const p = c.property;
  if (c.field && (DOCUMENT_FIELDS.has(p) || p.startsWith('$') || p.includes('.')))
    problems.push({
      path: ['schema', 'properties', p],
      message: `property "${p}" cannot be a document field (the sink's own, or a name MongoDB forbids): set postgres.columns.${p}.extra`,
    });
  return problems;
}

/** The column of one property, or the problems that keep it from having one. */
function columnOf(
  name: string,
  property: Record<string, unknown>,
  required: boolean,
  o: ColumnOverride,
): { column?: ColumnPlan; problems: RouteProblem[] } {
  const { types, nullable } = jsonTypes(property);
  const { sqlType, problem } = sqlTypeOf(name, property, types, o.type);
  if (!sqlType) return { problems: problem ? [problem] : [] };
  const canBeMissing = !required || nullable;
  const column: ColumnPlan = {
    property: name,
    column: o.column ?? snakeCase(name),
    sqlType,
    notNull: o.notNull ?? !canBeMissing,
    index: o.index ?? false,
    field: types.length === 1 && types[0] === 'string' && sqlType === 'text',
  };
  return { column, problems: [...(problem ? [problem] : []), ...columnProblems(column, o, canBeMissing)] };
}

/** Why a column's name cannot be used: the sink keeps a column of that name, or an earlier property has it. */
function nameTaken(c: ColumnPlan, earlier: readonly ColumnPlan[], reserved: ReadonlySet<string>): RouteProblem[] {
  const other = earlier.find((x) => x.column === c.column);
  if (!reserved.has(c.column) && !other) return [];
  const why = other
    ? `property "${other.property}" has that column already`
    : 'the sink keeps its own column of that name';
  return [{ path: ['postgres', 'columns', c.property], message: `column "${c.column}": ${why}` }];
}

/**
 * A route's columns from its record schema's top-level properties, in their order, each as the
 * file's overrides say; with every problem (a property that cannot be mapped, an override of no
 * property, a column name twice or one the sink uses itself: `reserved`).
 */
export function deriveColumns(
  schema: Record<string, unknown>,
  overrides: Readonly<Record<string, ColumnOverride>>,
  reserved: ReadonlySet<string>,
): { columns: ColumnPlan[]; problems: RouteProblem[] } {
  const properties = isObject(schema.properties) ? schema.properties : {};
  const required = new Set(Array.isArray(schema.required) ? schema.required : []);
  const problems: RouteProblem[] = Object.keys(overrides)
    .filter((name) => !Object.hasOwn(properties, name))
    .map((name) => ({ path: ['postgres', 'columns', name], message: `no property "${name}" in the route's schema` }));
  const columns: ColumnPlan[] = [];
  for (const [name, property] of Object.entries(properties)) {
    const o = overrides[name] ?? {};
    if (o.extra) {
      if (Object.keys(o).length > 1)
        problems.push({
          path: ['postgres', 'columns', name],
          message: 'extra: true takes no column, type, index or notNull',
        });
      continue;
    }
    const c = columnOf(name, isObject(property) ? property : {}, required.has(name), o);
    problems.push(...c.problems);
    if (!c.column) continue;
    problems.push(...nameTaken(c.column, columns, reserved));
    columns.push(c.column);
  }
  return { columns, problems };
}

/** The Mongo indexes of a route: properties stored as document fields only (others are in `extra` or `raw`). */
export function mongoIndexProblems(indexes: readonly string[], columns: readonly ColumnPlan[]): RouteProblem[] {
  return indexes.flatMap((p, i) => {
    const c = columns.find((x) => x.property === p);
    if (c?.field) return [];
    const why = c
      ? `property "${p}" is a ${c.sqlType} column, kept in extra in the documents: only text properties can be indexed in this version`
      : `no text property "${p}" in the route's columns`;
    return [{ path: ['mongo', 'indexes', i], message: why }];
  });
}
