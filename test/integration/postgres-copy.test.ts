/**
 * The Postgres write path against a real PostgreSQL: a slice goes as one COPY, and to the insert
 * when COPY cannot settle it (rows there already, a row refused). What lands in the tables.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { eventOf } from '../helpers/factories';
import { quoteType } from '../helpers/quote-type';
import { processBatch } from '../../lib/sink/batch';
import { createPostgresPool, postgresStores } from '../../lib/postgres/store';
import { qualifiedTable, tablesFrom } from '../../lib/postgres/names';
import { stackConfig, uniqueName } from '../helpers/env';
import { quotes } from '../helpers/sink';

const opts = { tombstones: 'skip' as const };

/** What a server or proxy without COPY answers it: feature_not_supported. */
const copyRefused = () => Object.assign(new Error('COPY is not supported here'), { code: '0A000' });

/**
 * Postgres stores on tables of their own; counts the COPYs and inserts its pool was given. With
 * `refuseCopy`, the pool answers every COPY as a server without it would.
 */
function lane(name: string, copy: boolean, refuseCopy = false) {
  const id = uniqueName(name).toLowerCase();
  const config = stackConfig({ POSTGRES_QUOTES_TABLE: `${id}_quotes`, POSTGRES_DEAD_LETTER_TABLE: `${id}_dl` });
  const pool = createPostgresPool(config);
  const sent = { copy: 0, insert: 0 };
  const query = pool.query.bind(pool) as (...args: unknown[]) => unknown;
  pool.query = ((q: unknown, ...rest: unknown[]) => {
    if (typeof (q as { submit?: unknown }).submit === 'function') {
      sent.copy++;
      if (refuseCopy) return Promise.reject(copyRefused());
      // The cluster-key note (once per store instance) is not a records insert.
    } else if (typeof q === 'string' && /^(with|insert)/.test(q) && !q.includes('_clusters')) sent.insert++;
    return query(q, ...rest);
  }) as typeof pool.query;
  const { records, deadLetters } = postgresStores(pool, quoteType, tablesFrom(config), { copy });
  const table = qualifiedTable(config, 'records');
  const dlTable = qualifiedTable(config, 'deadLetters');
  return {
    stores: { records: [records], deadLetters },
    sent,
    /** Every stored column but the time of writing, by offset. */
    rows: async () =>
      (await pool.query(`select to_jsonb(t) - 'ingested_at' as row from ${table} t order by "partition", "offset"`))
        .rows,
    deadLetters: async () =>
      (
        await pool.query<{ offset: string; error_kind: string; error: string }>(
          `select "offset", error_kind, error from ${dlTable} order by "offset"`,
        )
      ).rows,
    async close() {
      await pool.query(`drop table if exists ${table}, ${dlTable}`);
      await pool.end();
    },
  };
}

/** Values with every character COPY's text format escapes, and others a row must keep as sent. */
const ODD_VALUES = [
  JSON.stringify({ quote: 'tab\there, newline\nthere, CR\r, a backslash \\ and \\N', character: 'Homer' }),
  JSON.stringify({
    quote: 'émoji 🍩, "quotes", \u2028',
    character: 'Ned\tFlanders',
    image: 'https://example.com/a\\b.png',
    characterDirection: 'Left',
    rank: { n: 1, s: 'a\tb\\c\nd' },
  }),
  '{ "quote": "pretty-printed", "character": "Bart" }',
  '{"quote":"n","character":"Lisa","n":9007199254740993}',
  JSON.stringify({ quote: '\\', character: '\\\\', extra: [null, true, 1.5] }),
];

/** Record `i`'s text or binary key and its headers, for events in one partition (`eventOf(values, 1, first, …)`). */
const keysAndHeaders = (i: number) => ({
  key: i % 2 === 0 ? `k\t${i}\\` : Buffer.from([0xff, i % 256]),
  headers: { trace: `t\n${i}`, bin: Buffer.from([0xc3, 0x28]), é: 'ü' },
});

describe('Postgres: a slice goes as one COPY', () => {
  let withCopy: ReturnType<typeof lane>;
  let withInsert: ReturnType<typeof lane>;
  before(() => {
    withCopy = lane('copy', true);
    withInsert = lane('insert', false);
  });
  after(async () => {
    await withCopy.close();
    await withInsert.close();
  });

  test('COPY stores every row as the insert does: escaped characters, unicode, extra fields, kept raw text, keys and headers', async () => {
    const ev = eventOf([...ODD_VALUES, ...quotes(995, 100)], 1, 0, keysAndHeaders);
    const a = await processBatch(ev, quoteType, withCopy.stores, opts);
    const b = await processBatch(ev, quoteType, withInsert.stores, opts);
    assert.deepEqual(a.stores.postgres, { written: 1000, alreadyPresent: 0 });
    assert.deepEqual(b.stores.postgres, a.stores.postgres);
    assert.deepEqual(withCopy.sent, { copy: 2, insert: 0 }, 'two chunks of 500, one COPY each');
    assert.equal(withInsert.sent.copy, 0);
    const [copied, inserted] = [await withCopy.rows(), await withInsert.rows()];
    assert.equal(copied.length, 1000);
    assert.deepEqual(copied, inserted);
    const first = copied[0].row as { quote: string; kafka_key: string };
    assert.equal(first.quote, 'tab\there, newline\nthere, CR\r, a backslash \\ and \\N');
    assert.equal(first.kafka_key, 'k\t0\\');
  });

  test('a replay: COPY finds the rows there, the insert settles them (present, one collision); once an insert writes a whole slice, COPY again', async () => {
    const values = [...ODD_VALUES, ...quotes(995, 100)];
    values[700] = quotes(1, 9000)[0];
    const again = await processBatch(eventOf(values, 1, 0, keysAndHeaders), quoteType, withCopy.stores, opts);
    assert.deepEqual(again.stores.postgres, { written: 0, alreadyPresent: 999 });
    assert.deepEqual(again.deadLettered.byKind, { collision: 1 });
    assert.deepEqual(
      (await withCopy.deadLetters()).map((d) => [d.offset, d.error_kind]),
      [['700', 'collision']],
    );
    assert.deepEqual(await withCopy.rows(), await withInsert.rows(), 'nothing changed');

    // After a COPY found rows there, the next slice goes by insert; it writes all of its rows, so
    // the one after goes by COPY again.
    const before = { ...withCopy.sent };
    const next = quotes(1000, 5000);
    const first = await processBatch(
      eventOf(next.slice(0, 500), 1, 1000, keysAndHeaders),
      quoteType,
      withCopy.stores,
      opts,
    );
    const second = await processBatch(
      eventOf(next.slice(500), 1, 1500, keysAndHeaders),
      quoteType,
      withCopy.stores,
      opts,
    );
    assert.deepEqual(
      [first.stores.postgres, second.stores.postgres],
      [
        { written: 500, alreadyPresent: 0 },
        { written: 500, alreadyPresent: 0 },
      ],
    );
    assert.deepEqual(
      { copy: withCopy.sent.copy - before.copy, insert: withCopy.sent.insert - before.insert },
      {
        copy: 1,
        insert: 1,
      },
    );
  });

  test('a row Postgres refuses inside a COPY slice (an index row too large): dead-lettered with its reason, the rest written', async () => {
    const values = quotes(500, 7000);
    // Random text does not compress: too large for the btree index on character.
    values[250] = JSON.stringify({ quote: 'q', character: randomBytes(6000).toString('base64') });
    const copies = withCopy.sent.copy;
    const s = await processBatch(eventOf(values, 1, 5000, keysAndHeaders), quoteType, withCopy.stores, opts);
    assert.equal(withCopy.sent.copy - copies, 1, 'COPY was tried first');
    assert.deepEqual(s.stores.postgres, { written: 499, alreadyPresent: 0 });
    assert.deepEqual(s.deadLettered.byKind, { store: 1 });
    const dead = (await withCopy.deadLetters()).filter((d) => d.offset === '5250');
    assert.equal(dead.length, 1);
    assert.match(dead[0].error, /^postgres refused the record: .*index row/);
    const stored = (await withCopy.rows()).filter((r) => Number((r.row as { offset: number }).offset) >= 5000);
    assert.equal(stored.length, 499);
  });

  test('a server that refuses COPY itself: the insert writes the slice, and COPY is not tried again', async () => {
    const refusing = lane('nocopy', true, true);
    try {
      const first = await processBatch(
        eventOf(quotes(500, 8000), 1, 0, keysAndHeaders),
        quoteType,
        refusing.stores,
        opts,
      );
      const second = await processBatch(
        eventOf(quotes(500, 8500), 1, 500, keysAndHeaders),
        quoteType,
        refusing.stores,
        opts,
      );
      assert.deepEqual(
        [first.stores.postgres, second.stores.postgres],
        [
          { written: 500, alreadyPresent: 0 },
          { written: 500, alreadyPresent: 0 },
        ],
      );
      assert.deepEqual(refusing.sent, { copy: 1, insert: 2 });
      assert.equal((await refusing.rows()).length, 1000);
    } finally {
      await refusing.close();
    }
  });
});
