/** The sink file (sink.yaml): loading, every kind of bad file, and a route compiled to a record type. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { build } from 'esbuild';
import { stringify } from 'yaml';
import { describeFailure } from '../../tools/cli/main';
import { loadConfig } from '../../lib/config';
import { quoteType as handWritten } from '../helpers/quote-reference';
import { validateRecord } from '../../lib/records/validate';
import { sinkFilePlugin } from '../../tools/routes/bundle';
import { DEFAULT_SINK_FILE } from '../../lib/routes/compiled';
import { quotesRoute } from '../../lib/routes/default';
import { loadSinkFile, SinkFileError } from '../../tools/routes/load';
import type { RoutePlan } from '../../lib/routes/plan';
import { routeRecordType } from '../../lib/routes/record-type';
import { compileValidators, standaloneValidators } from '../../tools/routes/validators';
import { mongoIndexes } from '../../lib/mongo/store';
import { schemaSql } from '../../lib/postgres/store';
import { recordsTable } from '../../lib/postgres/tables';
import { toRow } from '../../lib/postgres/table-spec';
import { splitValue } from '../../lib/sink/value-parts';
import { typeFields } from '../../lib/records/record-type';

const dir = mkdtempSync(path.join(os.tmpdir(), 'sink-file-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const ORDER_SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  required: ['id', 'total', 'placedAt'],
  properties: {
    id: { type: 'integer' },
    total: { type: 'number' },
    placedAt: { type: 'string', format: 'date-time' },
    paid: { type: 'boolean' },
    customer: { type: 'object' },
    lines: { type: 'array' },
    note: { type: 'string' },
  },
};

/** A good two-route file (as a value), for each case to break one thing of. */
const good = () => ({
  $schema: './sink.schema.json',
  routes: {
    quotes: {
      topic: 'quotes',
      schema: { type: 'object', required: ['quote'], properties: { quote: { type: 'string' } } },
      mode: 'append',
      postgres: { table: 'quotes', columns: { quote: { index: true } } },
      mongo: { collection: 'quotes', indexes: ['quote'] },
    },
    orders: {
      topic: 'orders',
      schema: 'orders.schema.json',
      mode: 'append',
      postgres: { table: 'orders', columns: { id: { index: true } } },
      mongo: { collection: 'orders', indexes: ['note'] },
    },
  },
});
writeFileSync(path.join(dir, 'orders.schema.json'), JSON.stringify(ORDER_SCHEMA));

let n = 0;
/** Writes `content` (a value as YAML, or text) as a sink file of its own and loads it. */
function load(content: unknown) {
  const file = path.join(dir, `sink-${++n}.yaml`);
  writeFileSync(file, typeof content === 'string' ? content : stringify(content));
  return { file, load: () => loadSinkFile(file) };
}

/** The problem lines of loading `content`, which must fail with a SinkFileError. */
function problems(content: unknown): string[] {
  const f = load(content);
  try {
    f.load();
  } catch (e) {
    assert.ok(e instanceof SinkFileError, String(e));
    const lines = e.message.split('\n').slice(1);
    assert.equal(lines.length, e.problems.length);
    for (const line of lines) assert.ok(line.includes(f.file) || line.includes(path.basename(f.file)), line);
    return lines;
  }
  assert.fail('the sink file loaded');
}

type Good = ReturnType<typeof good>;
const broken = (change: (g: Good) => void): Good => {
  const g = good();
  change(g);
  return g;
};

test('the good file loads: both routes, columns derived by type, overrides applied', () => {
  const { routes } = load(good()).load();
  assert.deepEqual(
    routes.map((r) => r.name),
    ['quotes', 'orders'],
  );
  const orders = routes[1];
  assert.deepEqual(
    orders.postgres.columns.map((c) => [c.property, c.column, c.sqlType, c.notNull, c.index, c.field]),
    [
      ['id', 'id', 'bigint', true, true, false],
      ['total', 'total', 'double precision', true, false, false],
      ['placedAt', 'placed_at', 'timestamptz', true, false, false],
      ['paid', 'paid', 'boolean', false, false, false],
      ['customer', 'customer', 'jsonb', false, false, false],
      ['lines', 'lines', 'jsonb', false, false, false],
      ['note', 'note', 'text', false, false, true],
    ],
  );
});

describe('a bad sink file: one line per problem, naming the file, the route and the JSON path', () => {
  const cases: [string, unknown, RegExp][] = [
    [
      'unknown key',
      broken((g) => Object.assign(g.routes.quotes, { topc: 'x' })),
      /route quotes: \$\.routes\.quotes\.topc: unknown key/,
    ],
    [
      'unknown SQL type',
      broken((g) => (g.routes.quotes.postgres.columns.quote = { type: 'texty' } as never)),
      /route quotes: \$\.routes\.quotes\.postgres\.columns\.quote\.type: unknown type "texty" \(one of: text, integer/,
    ],
    [
      'a type that cannot be mapped',
      broken((g) => Object.assign(g.routes.quotes.schema.properties, { both: { type: ['string', 'integer'] } })),
      /route quotes: \$\.routes\.quotes\.schema\.properties\.both\.type: a column cannot be derived from types string, integer/,
    ],
    [
      'an override the property type cannot take',
      broken((g) => (g.routes.orders.postgres.columns = { id: { type: 'boolean' } } as never)),
      /route orders: \$\.routes\.orders\.postgres\.columns\.id\.type: a integer property cannot be a boolean column/,
    ],
    [
      'duplicate table',
      broken((g) => (g.routes.orders.postgres.table = 'quotes')),
      /route orders: \$\.routes\.orders\.postgres\.table: table quotes is route quotes's already/,
    ],
    [
      'duplicate collection',
      broken((g) => (g.routes.orders.mongo.collection = 'quotes')),
      /route orders: \$\.routes\.orders\.mongo\.collection: collection quotes is route quotes's already/,
    ],
    [
      'two routes on one topic',
      broken((g) => (g.routes.orders.topic = 'quotes')),
      /route orders: \$\.routes\.orders\.topic: topic quotes is routed by route quotes already/,
    ],
    [
      'illegal identifier',
      broken((g) => (g.routes.quotes.postgres.table = 'Quotes-Table')),
      /route quotes: \$\.routes\.quotes\.postgres\.table: illegal identifier "Quotes-Table"/,
    ],
    [
      'a derived column name that is not an identifier',
      broken((g) => Object.assign(g.routes.quotes.schema.properties, { 'quote-text': { type: 'string' } })),
      /route quotes: \$\.routes\.quotes\.schema\.properties\['quote-text'\]: column name "quote-text" is not a legal identifier/,
    ],
    [
      'missing schema file',
      broken((g) => (g.routes.orders.schema = 'nowhere.json')),
      /route orders: \$\.routes\.orders\.schema: schema file nowhere\.json: no such file/,
    ],
    [
      'a schema file outside the sink file folder',
      broken((g) => (g.routes.orders.schema = '../orders.schema.json')),
      /route orders: \$\.routes\.orders\.schema: schema file \.\.\/orders\.schema\.json must be beside the sink file/,
    ],
    [
      'a schema that is not valid JSON Schema',
      broken((g) => (g.routes.quotes.schema.properties.quote = { type: 'strng' } as never)),
      /route quotes: \$\.routes\.quotes\.schema: not valid JSON Schema: schema\/properties\/quote\/type must be equal to one of the allowed values/,
    ],
    [
      'an unknown keyword in the schema (a typo)',
      broken((g) => (g.routes.quotes.schema.properties.quote = { type: 'string', minLenght: 1 } as never)),
      /route quotes: \$\.routes\.quotes\.schema: not valid JSON Schema: strict mode: unknown keyword: "minLenght"/,
    ],
    [
      'a schema of another draft',
      broken((g) => Object.assign(g.routes.quotes.schema, { $schema: 'http://json-schema.org/draft-07/schema#' })),
      /route quotes: \$\.routes\.quotes\.schema: not draft 2020-12/,
    ],
    [
      'upsert, which is not there yet',
      broken((g) => (g.routes.quotes.mode = 'upsert')),
      /route quotes: \$\.routes\.quotes\.mode: mode "upsert" is not supported \(only append; upsert comes in a later version\)/,
    ],
    [
      'a missing required key',
      broken((g) => delete (g.routes.quotes as Partial<Good['routes']['quotes']>).mongo),
      /route quotes: \$\.routes\.quotes\.mongo: missing \(required\)/,
    ],
    [
      'a column override of no property',
      broken((g) => Object.assign(g.routes.quotes.postgres.columns, { qoute: { index: true } })),
      /route quotes: \$\.routes\.quotes\.postgres\.columns\.qoute: no property "qoute" in the route's schema/,
    ],
    [
      'notNull on an optional property',
      broken((g) => (g.routes.orders.postgres.columns = { note: { notNull: true } } as never)),
      /route orders: \$\.routes\.orders\.postgres\.columns\.note\.notNull: notNull needs a required property/,
    ],
    [
      'a column the sink keeps itself',
      broken((g) => (g.routes.quotes.postgres.columns.quote = { column: 'extra' } as never)),
      /route quotes: \$\.routes\.quotes\.postgres\.columns\.quote: column "extra": the sink keeps its own column of that name/,
    ],
    [
      'a Mongo index on a property kept in extra',
      broken((g) => (g.routes.orders.mongo.indexes = ['total'])),
      /route orders: \$\.routes\.orders\.mongo\.indexes\[0\]: property "total" is a double precision column, kept in extra/,
    ],
    [
      'an illegal route name',
      broken((g) => Object.assign(g.routes, { 'My Route': g.routes.quotes })),
      /\$\.routes\['My Route'\]: illegal route name/,
    ],
    ['not YAML', 'routes:\n  quotes: [unclosed\n', /sink-\d+\.yaml: \$: not valid YAML \(line \d+\)/],
    ['a key twice', 'routes:\n  quotes: {}\n  quotes: {}\n', /not valid YAML \(line 3\): Map keys must be unique/],
  ];
  for (const [kind, content, line] of cases)
    test(kind, () => {
      const lines = problems(content);
      assert.equal(lines.length, 1, lines.join('\n'));
      assert.match(lines[0], line);
    });

  test('every problem at once', () => {
    const lines = problems(
      broken((g) => {
        g.routes.quotes.mode = 'upsert';
        g.routes.orders.postgres.table = 'Orders';
        g.routes.orders.mongo.collection = 'x/y';
      }),
    );
    assert.equal(lines.length, 3, lines.join('\n'));
  });

  test('a missing sink file', () => {
    assert.throws(() => loadSinkFile(path.join(dir, 'none.yaml')), /none\.yaml: \$: no such file/);
  });

  test('the command lines exit 2 with the lines, no stack trace', () => {
    const f = load(broken((g) => (g.routes.quotes.mode = 'upsert')));
    let error: unknown;
    try {
      f.load();
    } catch (e) {
      error = e;
    }
    const outcome = describeFailure('migrate', error);
    assert.equal(outcome.code, 2);
    assert.match(outcome.stderr ?? '', /^migrate: invalid sink file \(1 problem\):\n {2}.*mode "upsert"/);
    assert.doesNotMatch(outcome.stderr ?? '', /at .*\.ts:\d+/);
  });
});

test('the default sink file loads: the quotes route, on the tables and collection the configuration defaults to', () => {
  const { routes } = loadSinkFile(DEFAULT_SINK_FILE);
  assert.deepEqual(
    routes.map((r) => [r.name, r.topic, r.postgres.table, r.mongo.collection]),
    [['quotes', 'quotes', 'quotes', 'quotes']],
  );
  // The stores take their names from the configuration still: its defaults must be the route's.
  const c = loadConfig({});
  assert.deepEqual([c.KAFKA_TOPIC, c.POSTGRES_QUOTES_TABLE, c.MONGO_COLLECTION], ['quotes', 'quotes', 'quotes']);
});

test("the quotes route gives today's DDL, Mongo indexes and fields", () => {
  const tables = { schema: 'public', records: 'quotes', deadLetters: 'dead_letters' };
  assert.equal(schemaSql(quotesRoute(), tables), schemaSql(handWritten, tables));
  assert.deepEqual(mongoIndexes(quotesRoute()), mongoIndexes(handWritten));
  assert.deepEqual(typeFields(quotesRoute()), typeFields(handWritten));
});

test('the standalone validators (what the build bundles) decide as the ones compiled at load', () => {
  const { routes } = load(good()).load();
  const module = { exports: {} as Record<string, (v: unknown) => boolean> };
  // The generated module, run as esbuild's bundle runs it.
  new Function('require', 'module', 'exports', standaloneValidators(routes))(require, module, module.exports);
  const compiled = compileValidators(routes);
  const samples = [
    { id: 1, total: 2.5, placedAt: '2026-12-04T18:00:00Z' },
    { id: 1.5, total: 2.5, placedAt: '2026-12-04T18:00:00Z' },
    { id: 1, total: 2.5, placedAt: 'yesterday' },
    { id: 1, total: 2.5 },
    { quote: 'Doh' },
    [],
  ];
  for (const r of routes)
    for (const s of samples)
      assert.equal(module.exports[r.name](s), compiled[r.name](s), `${r.name} ${JSON.stringify(s)}`);
});

describe('a route with columns of every type', () => {
  const plan: RoutePlan = load(good()).load().routes[1];
  const type = routeRecordType(plan, compileValidators([plan]).orders);
  // `note` (the one field stored as itself) first: then the parts rebuild the text, no raw copy.
  const value = {
    note: 'fast',
    id: 7,
    total: 19.5,
    placedAt: '2026-12-04T18:00:00.000Z',
    paid: true,
    customer: { name: 'Moe' },
    lines: [{ sku: 'duff', qty: 6 }],
    coupon: 'X1',
  };
  const text = JSON.stringify(value);

  test('typed columns are copies: the value keeps them in extra, so it is rebuilt byte for byte', () => {
    const parts = splitValue(typeFields(type), value, text);
    assert.deepEqual(parts.fields, { note: 'fast' });
    assert.deepEqual(Object.keys(parts.extra ?? {}), [
      'id',
      'total',
      'placedAt',
      'paid',
      'customer',
      'lines',
      'coupon',
    ]);
    assert.equal(parts.raw, undefined);
  });

  test('the row holds each column by its SQL type', () => {
    const parts = splitValue(typeFields(type), value, text);
    const meta = {
      cluster: 'c',
      coordinates: { topic: 'orders', partition: 0, offset: 1 },
      timestamp: 1,
      timestampType: 'CREATE_TIME' as const,
      headers: [],
      fingerprint: 'f',
    };
    const good = { meta, key: {}, payload: value, value, valueBase64: '', valueText: text, parts };
    const row = toRow(recordsTable(type), good);
    assert.deepEqual(
      [row.id, row.total, row.placed_at, row.paid, row.customer, row.lines, row.note],
      [7, 19.5, '2026-12-04T18:00:00.000Z', true, { name: 'Moe' }, [{ sku: 'duff', qty: 6 }], 'fast'],
    );
  });

  test('an index in one store only: Postgres on id, Mongo on note', () => {
    const ddl = schemaSql(type, { schema: 'public', records: 'orders', deadLetters: 'dead_letters' });
    assert.match(ddl, /create index if not exists "orders_id_idx" on "public"."orders" \("id"\)/);
    assert.doesNotMatch(ddl, /orders_note_idx/);
    assert.deepEqual(mongoIndexes(type), [{ note: 1 }, { 'kafka.timestamp': 1 }]);
  });

  test('a refused value is a schema dead letter naming the JSON path', () => {
    const v = validateRecord(type, { ...value, id: 'seven', lines: 3 }, { topic: 'orders', partition: 0, offset: 1 });
    assert.equal(v.ok, false);
    if (!v.ok) {
      assert.equal(v.error.kind, 'schema');
      assert.match(v.error.detail, /not a valid orders record: id: Expected integer; lines: Expected array/);
    }
  });
});

describe('the build', () => {
  const bundle = (file: string) =>
    build({
      entryPoints: [path.join(__dirname, '..', '..', 'lib', 'routes', 'default.ts')],
      bundle: true,
      platform: 'node',
      format: 'cjs',
      write: false,
      logLevel: 'silent',
      plugins: [sinkFilePlugin(file)],
    });

  test('fails on a bad sink file, with its lines', async () => {
    const f = load(broken((g) => (g.routes.quotes.mode = 'upsert')));
    await assert.rejects(bundle(f.file), /route quotes: \$\.routes\.quotes\.mode: mode "upsert" is not supported/);
  });

  test('bundles the routes compiled: no YAML parser, no schema compiler, the same decisions', async () => {
    const text = (await bundle(load(good()).file)).outputFiles[0].text;
    assert.doesNotMatch(text, /parseDocument|standaloneCode|ajv\/dist\/compile/);
    const module = {
      exports: {} as { defaultRoutes(): { plan: RoutePlan; type: { accepts?(v: unknown): boolean } }[] },
    };
    new Function('require', 'module', 'exports', text)(require, module, module.exports);
    const routes = module.exports.defaultRoutes();
    assert.deepEqual(
      routes.map((r) => r.plan.name),
      ['quotes', 'orders'],
    );
    assert.equal(routes[1].type.accepts?.({ id: 1, total: 2, placedAt: '2026-12-04T18:00:00Z' }), true);
    assert.equal(routes[1].type.accepts?.({ id: 'one', total: 2, placedAt: '2026-12-04T18:00:00Z' }), false);
  });
});
