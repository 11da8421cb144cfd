/**
 * Reads and checks a sink file (sink.yaml): its shape against sink.schema.json, then what a schema
 * cannot say (record schemas that exist and are valid JSON Schema, columns that can be derived, no
 * topic, table or collection twice). Every problem is reported at once, one line each, naming the
 * file, the route and the JSON path. Runs at development time and in the build, never in the
 * Lambda: the bundle holds the plans it returns and the validators compiled from them.
 */
import fs from 'node:fs';
import path from 'node:path';
import Ajv2020, { type ErrorObject } from 'ajv/dist/2020';
import { parseDocument } from 'yaml';
import { recordsTable } from '../../lib/postgres/tables';
import { sharedRecordAjv } from './ajv';
import { SinkFileError, type SinkFileProblem } from './errors';
import { pointerSegments } from '../../lib/routes/record-type';
import type { RoutePlan } from '../../lib/routes/plan';
import { deriveColumns, mongoIndexProblems, type ColumnOverride } from './plan';

export { SinkFileError, type SinkFileProblem } from './errors';

/** The sink file's own schema, committed beside the default sink file (editors read it too). */
export const SINK_FILE_SCHEMA = path.resolve(__dirname, '..', '..', 'sink.schema.json');
/** The draft record schemas are written in. */
const DRAFT_2020_12 = 'https://json-schema.org/draft/2020-12/schema';

/** A loaded sink file: its routes, checked, in the order of the file. */
export interface SinkFile {
  file: string;
  routes: RoutePlan[];
  /** The files it was read from: the sink file and the schema files its routes name (a watcher rebuilds on them). */
  sources: string[];
}

/** The sink file as its schema describes it (only once it passed that schema). */
interface RawRoute {
  topic: string;
  schema: string | Record<string, unknown>;
  mode: 'append';
  postgres: { table: string; columns?: Record<string, ColumnOverride> };
  mongo: { collection: string; indexes?: string[] };
}

/** A problem of the file's shape, in words a person editing it reads (not Ajv's). */
function shapeProblem(e: ErrorObject, value: (at: string[]) => unknown): SinkFileProblem {
  const at = pointerSegments(e.instancePath);
  const problem = (p: (string | number)[], message: string): SinkFileProblem => ({
    ...(p[0] === 'routes' && p.length > 1 ? { route: String(p[1]) } : {}),
    path: p,
    message,
  });
  const got = JSON.stringify(value(at));
  switch (e.keyword) {
    case 'additionalProperties':
      return problem([...at, String(e.params.additionalProperty)], 'unknown key');
    case 'required':
      return problem([...at, String(e.params.missingProperty)], 'missing (required)');
    case 'enum':
      if (at.at(-1) === 'mode')
        return problem(at, `mode ${got} is not supported (only append; upsert comes in a later version)`);
      return problem(at, `unknown ${at.at(-1)} ${got} (one of: ${(e.params.allowedValues as unknown[]).join(', ')})`);
    case 'type':
      return problem(at, `must be ${String(e.params.type).replace(/,/g, ' or ')}, not ${got}`);
    case 'propertyNames':
      return problem([...at, String(e.params.propertyName)], 'illegal route name (a lower-case identifier)');
    case 'pattern':
      if (e.schemaPath.includes('identifier'))
        return problem(at, `illegal identifier ${got} (lower-case letters, digits and _, at most 63)`);
      return problem(at, `illegal ${at.at(-1)} ${got}`);
    default:
      return problem(at, e.message ?? e.keyword);
  }
}

/** The value at `at` in `root`. */
const valueAt = (root: unknown, at: readonly string[]): unknown =>
  at.reduce<unknown>(
    (v, k) => (v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined),
    root,
  );

let fileValidator: ReturnType<Ajv2020['compile']> | undefined;

/** The sink file's shape problems (Ajv over sink.schema.json, compiled once). */
function shapeProblems(doc: unknown): SinkFileProblem[] {
  fileValidator ??= new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true }).compile(
    JSON.parse(fs.readFileSync(SINK_FILE_SCHEMA, 'utf8')) as object,
  );
  if (fileValidator(doc)) return [];
  // propertyNames reports its pattern too: one line for the name is enough.
  const errors = (fileValidator.errors ?? []).filter((e) => !e.propertyName);
  return errors.map((e) => shapeProblem(e, (at) => valueAt(doc, at)));
}

/** A JSON or YAML file's value, or what keeps it from being read (each YAML error, with its line). */
function readData(file: string): { value?: unknown; errors: string[] } {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    return { errors: [(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message] };
  }
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length === 0) return { value: doc.toJS() as unknown, errors: [] };
  return {
    errors: doc.errors.map((e) => `not valid YAML (line ${e.linePos?.[0].line ?? '?'}): ${e.message.split('\n')[0]}`),
  };
}

/** The record schema of a route, read from its file if given by path. */
function recordSchema(dir: string, route: RawRoute): { schema?: Record<string, unknown>; problem?: string } {
  let value: unknown = route.schema;
  if (typeof route.schema === 'string') {
    const file = path.resolve(dir, route.schema);
    if (path.relative(dir, file).startsWith('..') || path.isAbsolute(route.schema))
      return { problem: `schema file ${route.schema} must be beside the sink file (in its folder)` };
    const read = readData(file);
    if (read.errors.length) return { problem: `schema file ${route.schema}: ${read.errors[0]}` };
    value = read.value;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return { problem: 'the record schema must be a JSON Schema object' };
  return { schema: value as Record<string, unknown> };
}

/** Why a record schema cannot be used (it is not valid JSON Schema 2020-12, or not of an object), or undefined. */
function schemaProblem(schema: Record<string, unknown>): string | undefined {
  if (schema.$schema !== undefined && schema.$schema !== DRAFT_2020_12)
    return `not draft 2020-12: $schema is ${JSON.stringify(schema.$schema)} (use ${DRAFT_2020_12})`;
  const ajv = sharedRecordAjv();
  if (!ajv.validateSchema(schema))
    return `not valid JSON Schema: ${ajv.errorsText(ajv.errors, { dataVar: 'schema', separator: '; ' })}`;
  try {
    ajv.compile(schema);
  } catch (e) {
    return `not valid JSON Schema: ${(e as Error).message}`;
  }
  if (schema.type !== 'object' || typeof schema.properties !== 'object')
    return 'a record schema must be of type object, with properties (the columns come from them)';
  return undefined;
}

/** Columns every records table has (lib/sink/postgres-tables.ts), and the one earlier versions had. */
const SINK_COLUMNS = new Set([
  ...recordsTable({ name: '', schema: undefined as never, columns: [] }).columns.map((c) => c.name),
  'payload',
]);

/** The plan of one route that passed the file's schema, or its problems. */
function planRoute(name: string, route: RawRoute, dir: string): { plan?: RoutePlan; problems: SinkFileProblem[] } {
  const under = (p: { path: (string | number)[]; message: string }): SinkFileProblem => ({
    route: name,
    path: ['routes', name, ...p.path],
    message: p.message,
  });
  const read = recordSchema(dir, route);
  const problem = read.problem ?? (read.schema && schemaProblem(read.schema));
  if (problem || !read.schema) return { problems: [under({ path: ['schema'], message: problem ?? 'no schema' })] };
  const derived = deriveColumns(read.schema, route.postgres.columns ?? {}, SINK_COLUMNS);
  const indexes = route.mongo.indexes ?? [];
  const problems = [...derived.problems, ...mongoIndexProblems(indexes, derived.columns)];
  for (const c of derived.columns)
    if (c.index && `${route.postgres.table}_${c.column}_idx`.length > 63)
      problems.push({
        path: ['postgres', 'columns', c.property, 'index'],
        message: `index name ${route.postgres.table}_${c.column}_idx is longer than Postgres allows (63)`,
      });
  const plan: RoutePlan = {
    name,
    topic: route.topic,
    mode: route.mode,
    schema: read.schema,
    postgres: { table: route.postgres.table, columns: derived.columns },
    mongo: { collection: route.mongo.collection, indexes },
  };
  return { plan, problems: problems.map(under) };
}

/** The same topic, table or collection in two routes: the later route's line names the earlier. */
function clashes(routes: readonly [string, RawRoute][]): SinkFileProblem[] {
  const problems: SinkFileProblem[] = [];
  const seen = new Map<string, string>();
  for (const [name, r] of routes) {
    const used: [string, string[], (first: string) => string][] = [
      [`topic ${r.topic}`, ['topic'], (first) => `topic ${r.topic} is routed by route ${first} already`],
      [
        `table ${r.postgres.table}`,
        ['postgres', 'table'],
        (first) => `table ${r.postgres.table} is route ${first}'s already`,
      ],
      [
        `collection ${r.mongo.collection}`,
        ['mongo', 'collection'],
        (first) => `collection ${r.mongo.collection} is route ${first}'s already`,
      ],
    ];
    for (const [key, at, message] of used) {
      const first = seen.get(key);
      if (first === undefined) seen.set(key, name);
      else problems.push({ route: name, path: ['routes', name, ...at], message: message(first) });
    }
  }
  return problems;
}

/** How a file is named in the lines: relative to the working directory when it is below it. */
const shown = (file: string): string => {
  const rel = path.relative(process.cwd(), file);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
};

/**
 * Reads and checks the sink file at `file`; throws a {@link SinkFileError} with every problem
 * (naming the file, the route and the JSON path) when it cannot be used.
 */
export function loadSinkFile(file: string): SinkFile {
  const name = shown(file);
  const fail = (problems: SinkFileProblem[]): never => {
    throw new SinkFileError(name, problems);
  };
  const { value, errors } = readData(file);
  if (errors.length) fail(errors.map((message) => ({ path: [], message })));
  const problems = shapeProblems(value);
  const routes = Object.entries((valueAt(value, ['routes']) ?? {}) as Record<string, RawRoute>);
  // Routes whose shape is wrong are not checked further: their lines say what to fix first.
  const sound = routes.filter(
    ([n]) => !problems.some((p) => p.route === n) && typeof valueAt(value, ['routes', n]) === 'object',
  );
  const plans: RoutePlan[] = [];
  if (!problems.some((p) => p.route === undefined)) problems.push(...clashes(sound));
  for (const [n, r] of sound) {
    const planned = planRoute(n, r, path.dirname(path.resolve(file)));
    problems.push(...planned.problems);
    if (planned.plan) plans.push(planned.plan);
  }
  if (problems.length) fail(problems);
  const dir = path.dirname(path.resolve(file));
  const schemaFiles = sound.flatMap(([, r]) => (typeof r.schema === 'string' ? [path.resolve(dir, r.schema)] : []));
  return { file: name, routes: plans, sources: [path.resolve(file), ...schemaFiles] };
}
