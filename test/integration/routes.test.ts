/**
 * The default sink file's quotes route against the hand-written quote type it replaces, on the real
 * stack: the same rows, documents and dead letters for the fixtures.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { MongoClient } from 'mongodb';
import pg from 'pg';
import { quoteType as handWritten } from '../helpers/quote-reference';
import type { RecordType } from '../../lib/records/record-type';
import { quotesRoute } from '../../lib/routes/default';
import { loadSinkFile } from '../../tools/routes/load';
import { routeRecordType } from '../../lib/routes/record-type';
import { compileValidators } from '../../tools/routes/validators';
import { buildEvent, toEventRecord } from '../../tools/emulator/event';
import { postgresStores } from '../../lib/postgres/store';
import { tablesFrom } from '../../lib/postgres/names';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { stringify } from 'yaml';
import { processBatch } from '../../lib/sink/batch';
import { openStores, type OpenStores } from '../../lib/stores';
import { qualifiedTable } from '../../lib/postgres/names';
import type { Config } from '../../lib/config';
import { stackConfig, uniqueName } from '../helpers/env';

const fixture = (name: string): unknown =>
  JSON.parse(readFileSync(path.join(__dirname, '..', 'fixtures', name), 'utf8'));

interface Lane {
  config: Config;
  stores: OpenStores<unknown>;
}

/** Stores of `type` on tables and a collection of their own. */
async function lane(name: string, type: RecordType<unknown>): Promise<Lane> {
  const id = uniqueName(name).toLowerCase();
  const config = stackConfig({
    POSTGRES_QUOTES_TABLE: `${id}_quotes`,
    POSTGRES_DEAD_LETTER_TABLE: `${id}_dl`,
    MONGO_COLLECTION: `${id}_quotes`,
  });
  const stores = openStores(config, type);
  await stores.ready();
  return { config, stores };
}

/** What a lane stored: rows, documents and dead letters, less the times of the write. */
async function stored(l: Lane) {
  const rows = (await pool.query(`select * from ${qualifiedTable(l.config, 'records')} order by partition, "offset"`))
    .rows as Record<string, unknown>[];
  const deadLetters = (
    await pool.query(`select * from ${qualifiedTable(l.config, 'deadLetters')} order by partition, "offset"`)
  ).rows as Record<string, unknown>[];
  const docs = await mongo
    .db(l.config.MONGO_DATABASE)
    .collection(l.config.MONGO_COLLECTION)
    .find({})
    .sort({ _id: 1 })
    .toArray();
  const omit = (o: Record<string, unknown>, ...keys: string[]) =>
    Object.fromEntries(Object.entries(o).filter(([k]) => !keys.includes(k)));
  return {
    rows: rows.map((r) => omit(r, 'ingested_at')),
    docs: docs.map((d) => omit(d, 'ingestedAt')),
    // The detail names the type (`not a valid quote` / `not a valid quotes record`): compared by what follows.
    deadLetters: deadLetters.map((d): Record<string, unknown> => ({
      ...omit(d, 'failed_at', 'error'),
      error: String(d.error).replace(/^not a valid [^:]+: /, ''),
    })),
  };
}

let mongo: MongoClient;
let pool: pg.Pool;
let before_: Lane;
let after_: Lane;
before(async () => {
  mongo = await MongoClient.connect(stackConfig().MONGO_URL);
  pool = new pg.Pool({ connectionString: stackConfig().POSTGRES_URL, max: 1 });
  before_ = await lane('route_ref', handWritten as RecordType<unknown>);
  after_ = await lane('route_file', quotesRoute() as RecordType<unknown>);
});
after(async () => {
  for (const l of [before_, after_]) {
    const t = (w: Parameters<typeof qualifiedTable>[1]) => qualifiedTable(l.config, w);
    await pool
      .query(`drop table if exists ${t('records')}, ${t('deadLetters')}, ${t('tombstones')}, ${t('clusters')}`)
      .catch(() => undefined);
    await mongo
      .db(l.config.MONGO_DATABASE)
      .collection(l.config.MONGO_COLLECTION)
      .drop()
      .catch(() => undefined);
    await l.stores.close();
  }
  await Promise.all([mongo.close(), pool.end()]);
});

test('the quotes route stores the fixtures exactly as the hand-written quote type did: rows, documents, dead letters', async () => {
  for (const name of ['msk-event.json', 'self-managed-event.json']) {
    const opts = { tombstones: 'skip' as const };
    const a = await processBatch(fixture(name), handWritten as RecordType<unknown>, before_.stores, opts);
    const b = await processBatch(fixture(name), quotesRoute() as RecordType<unknown>, after_.stores, opts);
    assert.deepEqual({ ...b, durationMs: undefined }, { ...a, durationMs: undefined }, `${name}: the batch summary`);
  }
  const [a, b] = [await stored(before_), await stored(after_)];
  assert.ok(a.rows.length >= 4 && a.docs.length === a.rows.length && a.deadLetters.length >= 2);
  assert.deepEqual(b.rows, a.rows);
  assert.deepEqual(b.docs, a.docs);
  assert.deepEqual(b.deadLetters, a.deadLetters);
  assert.ok(b.deadLetters.some((d) => d.error_kind === 'schema' && /character: Required/.test(String(d.error))));
});

test('typed columns land as their SQL types, through the insert and through COPY alike, the value kept whole', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'routes-'));
  const schema = {
    type: 'object',
    required: ['id'],
    properties: {
      note: { type: 'string' },
      id: { type: 'integer' },
      total: { type: 'number' },
      placedAt: { type: 'string', format: 'date-time' },
      paid: { type: 'boolean' },
      customer: { type: 'object' },
      lines: { type: 'array' },
    },
  };
  const route = {
    topic: 'orders',
    schema,
    mode: 'append',
    postgres: { table: 'orders' },
    mongo: { collection: 'orders' },
  };
  writeFileSync(path.join(dir, 'sink.yaml'), stringify({ routes: { orders: route } }));
  const [plan] = loadSinkFile(path.join(dir, 'sink.yaml')).routes;
  rmSync(dir, { recursive: true, force: true });
  const type = routeRecordType(plan, compileValidators([plan]).orders) as RecordType<unknown>;
  const values = [
    {
      note: 'first',
      id: 7,
      total: 19.5,
      placedAt: '2026-12-04T18:00:00Z',
      paid: true,
      customer: { name: 'Moe' },
      lines: [1, 'two'],
    },
    { id: 8, note: 'out of order: kept raw' },
    { note: 'tab\there', id: -9007199254740991, customer: { q: 'a\\b "c"' }, lines: [] },
  ];
  const event = buildEvent(
    'self-managed',
    '127.0.0.1:9092',
    values.map((v, offset) =>
      toEventRecord({ topic: 'orders', partition: 0, offset, timestamp: 1700000000000, value: JSON.stringify(v) }),
    ),
  );
  const rowsOf = async (copy: boolean) => {
    const id = uniqueName(copy ? 'orders_copy' : 'orders_insert').toLowerCase();
    const config = stackConfig({ POSTGRES_QUOTES_TABLE: `${id}_orders`, POSTGRES_DEAD_LETTER_TABLE: `${id}_dl` });
    const { records, deadLetters } = postgresStores(pool, type, tablesFrom(config), { copy });
    const s = await processBatch(event, type, { records: [records], deadLetters }, { tombstones: 'skip' });
    const t = (w: Parameters<typeof qualifiedTable>[1]) => qualifiedTable(config, w);
    try {
      assert.deepEqual(s.stores.postgres, { written: 3, alreadyPresent: 0 });
      return (
        await pool.query(
          `select note, id, total, placed_at, paid, customer, lines, extra::text, raw_value from ${t('records')} order by "offset"`,
        )
      ).rows as Record<string, unknown>[];
    } finally {
      await pool.query(
        `drop table if exists ${t('records')}, ${t('deadLetters')}, ${t('tombstones')}, ${t('clusters')}`,
      );
    }
  };
  const inserted = await rowsOf(false);
  assert.deepEqual(await rowsOf(true), inserted);
  assert.deepEqual(
    inserted.map((r) => [
      r.note,
      r.id,
      r.total,
      (r.placed_at as Date | null)?.toISOString() ?? null,
      r.paid,
      r.customer,
      r.lines,
    ]),
    [
      ['first', '7', 19.5, '2026-12-04T18:00:00.000Z', true, { name: 'Moe' }, [1, 'two']],
      ['out of order: kept raw', '8', null, null, null, null, null],
      ['tab\there', '-9007199254740991', null, null, null, { q: 'a\\b "c"' }, []],
    ],
  );
  // The typed copies stay in the value's other fields (or its raw text): it is rebuilt byte for byte.
  assert.equal(inserted[0].extra, JSON.stringify({ ...values[0], note: undefined }));
  assert.equal(inserted[1].raw_value, JSON.stringify(values[1]));
});
