/**
 * Additive schema evolution on the real stack (issue 21 item 5): a route's schema gains optional
 * properties, and the rows and documents written before get them from what they keep, exactly as
 * if the new schema had written them; changes that cannot be followed are refused, nothing applied.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MongoClient } from 'mongodb';
import pg from 'pg';
import { stringify } from 'yaml';
import type { Config } from '../../lib/config';
import { qualifiedTable } from '../../lib/postgres/names';
import { PENDING } from '../../lib/postgres/evolve';
import { META_COLLECTION } from '../../lib/mongo/evolve';
import type { RecordType } from '../../lib/records/record-type';
import { routeRecordType } from '../../lib/routes/record-type';
import { processBatch } from '../../lib/sink/batch';
import { SchemaEvolutionError } from '../../lib/sink/evolve';
import { openStores } from '../../lib/stores';
import { buildEvent, toEventRecord } from '../../tools/emulator/event';
import { loadSinkFile } from '../../tools/routes/load';
import { compileValidators } from '../../tools/routes/validators';
import { stackConfig, uniqueName } from '../helpers/env';
import { startCommand, stopCommand, runCommand, TSX } from '../helpers/run';

const dir = mkdtempSync(path.join(os.tmpdir(), 'evolve-'));

/** The `items` route's schema, version 1: an id and a name. */
const V1 = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'integer' }, name: { type: 'string' } },
};
/** Version 2: two optional properties, a text field (stored once) and an integer (a typed copy). */
const V2 = { ...V1, properties: { ...V1.properties, color: { type: 'string' }, size: { type: 'integer' } } };

/** A sink file with the `items` route of `schema`; returns its path. */
function sinkFile(name: string, schema: object): string {
  const route = {
    topic: 'items',
    schema,
    mode: 'append',
    postgres: { table: 'items' },
    mongo: { collection: 'items' },
  };
  const file = path.join(dir, `${name}.yaml`);
  writeFileSync(file, stringify({ routes: { items: route } }));
  return file;
}

function typeOf(schema: object): RecordType<unknown> {
  const [plan] = loadSinkFile(sinkFile(`v${Math.random().toString(36).slice(2)}`, schema)).routes;
  return routeRecordType(plan, compileValidators([plan]).items) as RecordType<unknown>;
}

/** Values that take every path: fields present, absent, of another type, in another order, pretty-printed. */
function values(n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const v: Record<string, unknown> = { id: i, name: `item ${i}` };
    if (i % 2 === 0) v.color = ['red', 'green', 'blue'][i % 3];
    if (i % 3 === 0) v.size = i * 10;
    if (i % 7 === 0) v.size = 'large';
    if (i % 11 === 0) v.color = 42;
    const text = JSON.stringify(i % 5 === 0 ? { color: v.color, ...v } : v);
    out.push(i % 13 === 0 ? JSON.stringify(v, null, 2) : text);
  }
  return out;
}

const eventOf = (vals: readonly string[]) =>
  buildEvent(
    'self-managed',
    '127.0.0.1:9092',
    vals.map((value, i) =>
      toEventRecord({
        topic: 'items',
        partition: i % 2,
        offset: Math.floor(i / 2),
        timestamp: 1700000000000 + i,
        value,
      }),
    ),
  );

let pool: pg.Pool;
let mongo: MongoClient;
const configs: Config[] = [];

function laneConfig(name: string): Config {
  const id = uniqueName(name).toLowerCase();
  const c = stackConfig({
    POSTGRES_QUOTES_TABLE: `${id}_items`,
    POSTGRES_DEAD_LETTER_TABLE: `${id}_dl`,
    MONGO_COLLECTION: `${id}_items`,
  });
  configs.push(c);
  return c;
}

/** Writes `vals` with `type` into the lane's stores; returns how many were dead letters. */
async function write(c: Config, type: RecordType<unknown>, vals: readonly string[]): Promise<number> {
  const stores = openStores(c, type);
  try {
    return (await processBatch(eventOf(vals), type, stores, { tombstones: 'skip', writeChunk: 500 })).deadLettered
      .written;
  } finally {
    await stores.close();
  }
}

/** What v1 stored that v2 refuses (a `size` that is not an integer, a `color` that is not text). */
const refusedByV2 = (v: string) => /"size": ?"/.test(v) || /"color": ?42/.test(v);

/** `all`'s rows or documents less those of the records `fresh` does not hold. */
function heldBy<R extends Record<string, unknown>>(all: R[], fresh: R[], id: (r: R) => string): R[] {
  const ids = new Set(fresh.map(id));
  return all.filter((r) => ids.has(id(r)));
}
const rowId = (r: Record<string, unknown>) => `${String(r.partition)}/${String(r.offset)}`;
const docId = (d: Record<string, unknown>) => String(d._id);

/** Readies the lane's stores for `type` (which evolves them). */
async function ready(c: Config, type: RecordType<unknown>, batch?: number): Promise<void> {
  const stores = openStores(c, type, { evolution: { batch } });
  try {
    await stores.ready();
  } finally {
    await stores.close();
  }
}

/** What a lane holds: rows and documents, less the times of the writes. */
async function stored(c: Config) {
  const rows = await pool.query(`select * from ${qualifiedTable(c, 'records')} order by partition, "offset"`);
  const docs = await mongo.db(c.MONGO_DATABASE).collection(c.MONGO_COLLECTION).find({}).sort({ _id: 1 }).toArray();
  return {
    rows: rows.rows.map(({ ingested_at: _, ...r }: Record<string, unknown>): Record<string, unknown> => ({
      ...r,
      extra: JSON.stringify(r.extra),
    })),
    docs: docs.map(({ ingestedAt: _, ...d }) => d),
  };
}

const columnsOf = async (c: Config) =>
  (
    await pool.query<{ name: string; note: string | null }>(
      `select attname as name, col_description(attrelid, attnum) as note from pg_attribute
       where attrelid = to_regclass($1) and attnum > 0 and not attisdropped`,
      [qualifiedTable(c, 'records')],
    )
  ).rows;

before(async () => {
  pool = new pg.Pool({ connectionString: stackConfig().POSTGRES_URL, max: 2 });
  mongo = await MongoClient.connect(stackConfig().MONGO_URL);
});
after(async () => {
  for (const c of configs) {
    const t = (w: Parameters<typeof qualifiedTable>[1]) => qualifiedTable(c, w);
    await pool.query(`drop table if exists ${t('records')}, ${t('deadLetters')}, ${t('tombstones')}, ${t('clusters')}`);
    await mongo
      .db(c.MONGO_DATABASE)
      .collection(c.MONGO_COLLECTION)
      .drop()
      .catch(() => undefined);
    await mongo
      .db(c.MONGO_DATABASE)
      .collection(META_COLLECTION)
      .deleteOne({ _id: c.MONGO_COLLECTION as never });
  }
  await Promise.all([pool.end(), mongo.close()]);
  rmSync(dir, { recursive: true, force: true });
});

describe('a new optional property', () => {
  test('rows and documents written before hold it as if the new schema had written them; again is a no-op', async () => {
    const vals = values(120);
    const evolved = laneConfig('evolved');
    const fresh = laneConfig('fresh');
    const [v1, v2] = [typeOf(V1), typeOf(V2)];
    assert.equal(await write(evolved, v1, vals), 0);
    const before = await stored(evolved);
    assert.ok(before.docs.every((d) => d.color === undefined));
    await ready(evolved, v2, 7);
    assert.equal(await write(fresh, v2, vals), vals.filter(refusedByV2).length);
    const [a, b] = [await stored(evolved), await stored(fresh)];
    assert.equal(a.rows.length, 120);
    assert.equal(a.docs.length, 120);
    assert.deepEqual(heldBy(a.rows, b.rows, rowId), b.rows);
    assert.deepEqual(heldBy(a.docs, b.docs, docId), b.docs);
    // What v2 would refuse stays as v1 stored it, the new columns empty.
    const kept = a.rows.filter((r) => !b.rows.some((x) => rowId(x) === rowId(r)));
    assert.equal(kept.length, vals.filter(refusedByV2).length);
    for (const r of kept) {
      const old = before.rows.find((x) => rowId(x) === rowId(r));
      assert.deepEqual({ ...r, color: undefined, size: undefined }, { ...old, color: undefined, size: undefined });
      assert.ok(r.size === null || Number.isInteger(Number(r.size)));
    }
    // It did move something: strings of `color` became columns and fields, integer sizes a column.
    assert.equal(a.rows.filter((r) => r.color !== null).length, vals.filter((v) => /"color": ?"/.test(v)).length);
    assert.ok(a.rows.some((r) => r.size !== null) && a.docs.some((d) => typeof d.color === 'string'));
    assert.deepEqual(
      (await columnsOf(evolved)).filter((c) => c.note === PENDING),
      [],
    );
    await ready(evolved, v2, 7);
    assert.deepEqual(await stored(evolved), a);
  });

  test('a backfill killed halfway is taken up by the next run and ends as if never interrupted', async () => {
    const vals = values(1500);
    const evolved = laneConfig('killed');
    const fresh = laneConfig('unkilled');
    await write(evolved, typeOf(V1), vals);
    await write(fresh, typeOf(V2), vals);
    const same = async () => {
      const [a, b] = [await stored(evolved), await stored(fresh)];
      assert.deepEqual(heldBy(a.rows, b.rows, rowId), b.rows);
      assert.deepEqual(heldBy(a.docs, b.docs, docId), b.docs);
    };
    const env = {
      POSTGRES_QUOTES_TABLE: evolved.POSTGRES_QUOTES_TABLE,
      POSTGRES_DEAD_LETTER_TABLE: evolved.POSTGRES_DEAD_LETTER_TABLE,
      MONGO_COLLECTION: evolved.MONGO_COLLECTION,
    };
    const file = sinkFile('v2', V2);
    const run = await startCommand(TSX, ['test/helpers/evolve-run.ts', file, '5'], env, /step .*items \d+ [1-9]/);
    await stopCommand(run.child, 'SIGKILL');
    const half = await stored(evolved);
    const filled = half.rows.filter((r) => r.color !== null).length;
    const wanted = (await stored(fresh)).rows.filter((r) => r.color !== null).length;
    assert.ok(filled > 0 && filled < wanted, `killed halfway: ${filled} of ${wanted} filled`);
    assert.ok(
      (await columnsOf(evolved)).some((c) => c.note === PENDING),
      'the column is still marked',
    );
    const again = await runCommand(TSX, ['test/helpers/evolve-run.ts', file, '200'], env);
    assert.equal(again.code, 0, again.stderr);
    await same();
    assert.deepEqual(
      (await columnsOf(evolved)).filter((c) => c.note === PENDING),
      [],
    );
  });
});

describe('a change the stores cannot follow is refused, and nothing is applied', () => {
  const cases: [string, object, RegExp][] = [
    [
      'a type change',
      { ...V1, properties: { ...V1.properties, name: { type: 'integer' } } },
      /route items: property name \(column name\) is text in the table, the schema makes it bigint/,
    ],
    ['a removed property', { ...V1, properties: { id: { type: 'integer' } } }, /column name is in the table but not/],
    [
      'a renamed property',
      { ...V1, properties: { id: { type: 'integer' }, title: { type: 'string' } } },
      /column name is in the table but not in the schema/,
    ],
    [
      'a new required property',
      { ...V1, required: ['id', 'color'], properties: { ...V2.properties } },
      /route items: property color \(column color\) is new and required/,
    ],
  ];
  for (const [what, schema, message] of cases) {
    test(what, async () => {
      const c = { ...laneConfig('refused'), SINK_STORES: ['postgres'] } as Config;
      await write(c, typeOf(V1), values(10));
      const rows = async () =>
        (await pool.query(`select * from ${qualifiedTable(c, 'records')} order by 1, 2, 3, 4`)).rows;
      const before = { columns: await columnsOf(c), rows: await rows() };
      await assert.rejects(ready(c, typeOf(schema)), (e: unknown) => {
        assert.ok(e instanceof SchemaEvolutionError, String(e));
        assert.match(e.message, message);
        return true;
      });
      assert.deepEqual({ columns: await columnsOf(c), rows: await rows() }, before);
    });
  }

  test('npm run doctor -- --stores names each refused change, in both stores, and changes nothing', async () => {
    const c = laneConfig('doctor');
    await write(c, typeOf(V1), values(10));
    const before = await stored(c);
    const route = (schema: object) => ({
      topic: 'items',
      schema,
      mode: 'append',
      postgres: { table: c.POSTGRES_QUOTES_TABLE },
      mongo: { collection: c.MONGO_COLLECTION },
    });
    const doctor = (schema: object) => {
      const file = path.join(dir, `doctor-${Math.random().toString(36).slice(2)}.yaml`);
      writeFileSync(file, stringify({ routes: { items: route(schema) } }));
      const template = path.join(dir, 'empty-template.json');
      writeFileSync(template, JSON.stringify({ Resources: {} }));
      const env = { SINK_FILE: file, POSTGRES_DEAD_LETTER_TABLE: c.POSTGRES_DEAD_LETTER_TABLE };
      return runCommand(TSX, ['cli/doctor.ts', '--stores', '--template', template], env);
    };
    const ok = await doctor(V1);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /ok {3}stores against the routes' schemas/);
    const bad = await doctor({ ...V1, properties: { ...V1.properties, name: { type: 'integer' } } });
    assert.equal(bad.code, 1, bad.stdout + bad.stderr);
    const lines = bad.stdout.split('\n').filter((l) => l.includes('✗'));
    assert.deepEqual(lines, [
      '  ✗ postgres: route items: property name (column name) is text in the table, the schema makes it bigint',
      '  ✗ mongo: route items: field name of the stored documents is not a text field of the schema any more',
    ]);
    assert.deepEqual(await stored(c), before);
  });

  test('in MongoDB alone: a text field that is not one any more', async () => {
    const c = laneConfig('mongo_refused');
    const mongoOnly = { ...c, SINK_STORES: ['mongo'] } as Config;
    await write(mongoOnly, typeOf(V1), values(10));
    const docsOf = () => mongo.db(c.MONGO_DATABASE).collection(c.MONGO_COLLECTION).find({}).sort({ _id: 1 }).toArray();
    const docs = await docsOf();
    assert.equal(docs.length, 10);
    await assert.rejects(
      ready(mongoOnly, typeOf({ ...V1, properties: { id: { type: 'integer' } } })),
      /mongo: refusing to evolve: route items: field name of the stored documents is not a text field/,
    );
    assert.deepEqual(await docsOf(), docs);
  });
});
