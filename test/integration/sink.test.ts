/** The sink against real PostgreSQL and MongoDB (FerretDB natively): what lands in the stores. */
import assert from 'node:assert/strict';
import { MongoClient } from 'mongodb';
import { after, before, describe, test } from 'node:test';
import { InvalidEventError } from '../../lib/event/errors';
import { StoreWriteError } from '../../lib/sink/errors';
import { buildEvent, toEventRecord } from '../../tools/emulator/event';
import { IDENTITY_HEADER, clusterKey, clusterName } from '../../lib/event/coordinates';
import { fingerprint, signIdentity } from '../../lib/event/identity';
import type { Quote } from '../../lib/records/quote';
import { quoteType } from '../helpers/quote-type';
import { processBatch, type Stores } from '../../lib/sink/batch';
import { openStores } from '../../lib/stores';
import { stackConfig } from '../helpers/env';
import { dyingAfter, failingWrites } from '../helpers/faults';
import { quotes, sandbox, type Sandbox } from '../helpers/sink';
import { eventOf, fixture } from '../helpers/factories';

const opts = { tombstones: 'skip' as const };

describe('fixture batches', () => {
  let sb: Sandbox;
  before(async () => (sb = await sandbox('fixture')));
  after(() => sb.close());

  test('the MSK fixture writes the expected rows, documents and dead letters', async () => {
    const s = await processBatch(fixture('msk-event.json'), quoteType, sb, opts);
    assert.equal(s.received, 7);
    assert.deepEqual(s.stores.postgres, { written: 4, alreadyPresent: 0 });
    assert.deepEqual(s.stores.mongo, { written: 4, alreadyPresent: 0 });
    assert.deepEqual(s.deadLettered, { written: 2, alreadyPresent: 0, byKind: { json: 1, schema: 1 } });
    assert.deepEqual(s.tombstones, { received: 1, deleted: 0 });
    assert.deepEqual(s.partitions['quotes-0'], { first: 100, last: 102, count: 3 });
    assert.deepEqual(await sb.counts(), { rows: 4, docs: 4, deadLetters: 2 });

    const rows = await sb.query<Record<string, unknown>>(
      `select * from "${sb.env.POSTGRES_QUOTES_TABLE}" order by partition, "offset"`,
    );
    assert.deepEqual(
      rows.map((r) => [r.partition, Number(r.offset), r.character, r.kafka_key]),
      [
        [0, 100, 'Homer Simpson', 'Homer Simpson'],
        [0, 101, 'Ralph Wiggum', null],
        [1, 100, 'Bart Simpson', null],
        [2, 100, 'Chief Wiggum', 'Chief Wiggum'],
      ],
    );
    assert.equal(rows[0].quote, "D'oh! Why you little...");
    assert.equal(rows[0].character_direction, 'Right');
    assert.deepEqual(rows[0].headers, [
      { name: 'source', value: 'simpsons-quotes-api' },
      { name: 'fetched-at', value: '2025-11-24T16:00:00Z' },
      { name: 'trace-bytes', valueBase64: Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x80, 0xff]).toString('base64') },
    ]);
    // The lean row: each field once; no raw text, as the columns give back the value exactly.
    assert.equal(rows[0].raw_value, null);
    assert.equal(rows[0].extra, null);
    assert.ok(!('payload' in rows[0]), 'no payload column repeating the fields');
    assert.ok(rows[0].ingested_at instanceof Date);

    const dl = await sb.query<Record<string, unknown>>(
      `select * from "${sb.env.POSTGRES_DEAD_LETTER_TABLE}" order by "offset"`,
    );
    assert.deepEqual(
      dl.map((d) => [d.partition, Number(d.offset), d.error_kind]),
      [
        [1, 101, 'json'],
        [1, 102, 'schema'],
      ],
    );
    assert.match(String(dl[1].error), /character: Required/);
    assert.equal(Buffer.from(String(dl[0].value_base64), 'base64').toString(), '{"quote": "Ha-ha!", "character": ');

    const docs = await sb.docs();
    const cluster = clusterKey(clusterName(fixture('msk-event.json')));
    assert.deepEqual(
      docs.map((d) => d._id),
      ['quotes-0-100', 'quotes-0-101', 'quotes-1-100', 'quotes-2-100'].map((id) => `${cluster}:${id}`),
    );
    assert.equal(docs[0].character, 'Homer Simpson');
    // The lean document: coordinates in `_id` only, the key once, no payload or raw text repeating the fields.
    assert.deepEqual(Object.keys(docs[0]).sort(), [
      '_id',
      'character',
      'characterDirection',
      'image',
      'ingestedAt',
      'kafka',
      'quote',
    ]);
    assert.deepEqual(Object.keys(docs[0].kafka as object).sort(), ['fp', 'headers', 'key', 'timestamp']);
  });

  test('the same event three more times changes nothing', async () => {
    for (let i = 0; i < 3; i++) {
      const s = await processBatch(fixture('msk-event.json'), quoteType, sb, opts);
      assert.deepEqual(s.stores.postgres, { written: 0, alreadyPresent: 4 });
      assert.deepEqual(s.stores.mongo, { written: 0, alreadyPresent: 4 });
      assert.equal(s.deadLettered.alreadyPresent, 2);
    }
    assert.deepEqual(await sb.counts(), { rows: 4, docs: 4, deadLetters: 2 });
  });

  test('the self-managed fixture adds its own records', async () => {
    const s = await processBatch(fixture('self-managed-event.json'), quoteType, sb, opts);
    assert.equal(s.eventSource, 'SelfManagedKafka');
    assert.equal(s.stores.postgres.written, 4);
    assert.deepEqual(await sb.counts(), { rows: 8, docs: 8, deadLetters: 4 });
  });
});

describe('bad input', () => {
  let sb: Sandbox;
  before(async () => (sb = await sandbox('bad')));
  after(() => sb.close());

  test('a poison record is dead-lettered and every other record is written', async () => {
    const values: (string | null)[] = quotes(60);
    values[17] = '{"quote": "no closing brace"';
    values[33] = JSON.stringify({ quote: '', character: 'Moe' });
    const s = await processBatch(eventOf(values), quoteType, sb, opts);
    assert.equal(s.valid, 58);
    assert.deepEqual(await sb.counts(), { rows: 58, docs: 58, deadLetters: 2 });
  });

  test('an invalid event is rejected whole and nothing is written', async () => {
    const before = await sb.counts();
    const ev = eventOf(quotes(5, 1000));
    (ev.records['quotes-1'][0] as { value: string }).value = '%%% not base64 %%%';
    await assert.rejects(processBatch(ev, quoteType, sb, opts), InvalidEventError);
    assert.deepEqual(await sb.counts(), before);
  });

  test('injection text is stored verbatim and harmless', async () => {
    const evil = [
      JSON.stringify({ quote: "'; DROP TABLE quotes; --", character: '{"$gt": ""}' }),
      JSON.stringify({ quote: 'x', character: 'y', $where: '1==1' }),
    ];
    const s = await processBatch(eventOf(evil, 1, 5000), quoteType, sb, opts);
    assert.deepEqual(
      s.deadLettered.byKind,
      { unstorable: 1 },
      'an operator as a field name is dead-lettered, not sent to Mongo',
    );
    const rows = await sb.query<{ quote: string; character: string }>(
      `select quote, character from "${sb.env.POSTGRES_QUOTES_TABLE}" where "offset" = 5000`,
    );
    assert.deepEqual(rows, [{ quote: "'; DROP TABLE quotes; --", character: '{"$gt": ""}' }]);
    const docs = await sb.docs();
    assert.ok(docs.some((d) => d.character === '{"$gt": ""}'));
  });
});

describe('odd bytes and big values', () => {
  let sb: Sandbox;
  before(async () => (sb = await sandbox('odd')));
  after(() => sb.close());

  test('non-UTF-8 keys, odd header names, invalid UTF-8 values and a 4 MB quote: stored or dead-lettered, the batch written', async () => {
    const big = JSON.stringify({ quote: 'Mmm... '.repeat(600_000), character: 'Homer Simpson' });
    const records = [
      toEventRecord({
        topic: 'quotes',
        partition: 0,
        offset: 1,
        timestamp: 1,
        key: Buffer.from([0xff, 0xfe, 0x00]),
        value: quotes(1)[0],
        headers: { 'nul\u0000name': 'v', ok: Buffer.from([0xc3, 0x28]) },
      }),
      toEventRecord({
        topic: 'quotes',
        partition: 0,
        offset: 2,
        timestamp: 2,
        key: 'k',
        value: Buffer.from([0x7b, 0xff, 0x7d]),
      }),
      toEventRecord({ topic: 'quotes', partition: 0, offset: 3, timestamp: 3, key: 'k', value: big }),
      toEventRecord({ topic: 'quotes', partition: 0, offset: 4, timestamp: 4, key: 'k', value: '' }),
    ];
    const s = await processBatch(buildEvent('self-managed', 'x:1', records), quoteType, sb, opts);
    assert.equal(s.valid, 2);
    assert.deepEqual(s.deadLettered.byKind, { utf8: 1, json: 1 });
    assert.deepEqual(await sb.counts(), { rows: 2, docs: 2, deadLetters: 2 });
    const [odd] = await sb.query<{ kafka_key: string | null; kafka_key_base64: string; headers: unknown }>(
      `select kafka_key, kafka_key_base64, headers from "${sb.env.POSTGRES_QUOTES_TABLE}" where "offset" = 1`,
    );
    assert.equal(odd.kafka_key, null, 'a key that is not clean UTF-8 is kept as base64 only');
    assert.equal(odd.kafka_key_base64, Buffer.from([0xff, 0xfe, 0x00]).toString('base64'));
    assert.deepEqual(odd.headers, [
      // A name no store can hold is kept out of band (its bytes), shown with U+FFFD for the NUL.
      { name: 'nul\ufffdname', nameBase64: Buffer.from('nul\u0000name').toString('base64'), value: 'v' },
      { name: 'ok', valueBase64: Buffer.from([0xc3, 0x28]).toString('base64') },
    ]);
    const [bigRow] = await sb.query<{ n: number }>(
      `select length(quote) n from "${sb.env.POSTGRES_QUOTES_TABLE}" where "offset" = 3`,
    );
    assert.equal(bigRow.n, 'Mmm... '.repeat(600_000).length);
  });
});

describe('large batches', () => {
  let sb: Sandbox;
  before(async () => (sb = await sandbox('large')));
  after(() => sb.close());

  test('10,000 records in one event: written in chunks, all of them', async () => {
    const s = await processBatch(eventOf(quotes(10_000)), quoteType, sb, opts);
    assert.equal(s.stores.postgres.written, 10_000);
    assert.equal(s.stores.mongo.written, 10_000);
    assert.deepEqual(await sb.counts(), { rows: 10_000, docs: 10_000, deadLetters: 0 });
  });
});

describe('chunked writes inside a batch', () => {
  let sb: Sandbox;
  before(async () => (sb = await sandbox('chunks')));
  after(() => sb.close());

  // 50 records over 2 partitions, every 7th one invalid, written 6 at a time; one record repeated
  // in a later chunk than its first copy.
  const values = quotes(50, 100).map((v, i) => (i % 7 === 3 ? '{"quote": "no character"}' : v));
  const event = () => {
    const ev = eventOf(values, 2, 4000);
    ev.records['quotes-0'].push({ ...ev.records['quotes-0'][0] });
    return ev;
  };
  const invalid = values.filter((v) => v.includes('no character')).length;

  test('every chunk lands: rows, documents and dead letters add up, in-event duplicates counted once', async () => {
    const s = await processBatch(event(), quoteType, sb, { ...opts, writeChunk: 6 });
    assert.equal(s.received, 51);
    assert.equal(s.duplicateInEvent, 1);
    assert.equal(s.valid, 50 - invalid);
    assert.deepEqual(s.stores.postgres, { written: 50 - invalid, alreadyPresent: 0 });
    assert.deepEqual(s.stores.mongo, { written: 50 - invalid, alreadyPresent: 0 });
    assert.deepEqual(s.deadLettered, { written: invalid, alreadyPresent: 0, byKind: { schema: invalid } });
    assert.deepEqual(s.partitions['quotes-0'], { first: 4000, last: 4024, count: 26 });
    assert.deepEqual(await sb.counts(), { rows: 50 - invalid, docs: 50 - invalid, deadLetters: invalid });
  });

  test('a store failing in a later chunk: the batch throws once the chunk sent after it is done, earlier chunks stay, the retry completes it once', async () => {
    const own = await sandbox('chunkfail');
    /** Valid, distinct records among the event's first `k` records: what chunks 1..k/10 hold. */
    const validIn = (k: number) => {
      const seen = new Set<string>();
      let n = 0;
      for (const r of Object.values(event().records).flat().slice(0, k)) {
        const id = `${r.partition}-${r.offset}`;
        if (seen.has(id)) continue;
        seen.add(id);
        if (
          !Buffer.from(r.value as string, 'base64')
            .toString()
            .includes('no character')
        )
          n++;
      }
      return n;
    };
    const flaky: Stores<Quote> = {
      ...own,
      records: own.records.map((s) => (s.name === 'mongo' ? failingWrites(s, (call) => call === 3) : s)),
    };
    try {
      // The error names the failing chunk: records 20..29 of the event are quotes-0's last five,
      // the repeated record (4000), and quotes-1's first four.
      await assert.rejects(
        processBatch(event(), quoteType, flaky, { ...opts, writeChunk: 10 }),
        (e: unknown) =>
          e instanceof StoreWriteError &&
          e.store === 'mongo' &&
          e.chunk.from === 20 &&
          e.chunk.to === 30 &&
          /quotes-0@4000\.\.4024, quotes-1@4000\.\.4003/.test(e.message) &&
          e.partitions['quotes-1'].count === 4 &&
          e.cause instanceof Error,
      );
      // Chunks 1-2 in both stores, chunk 3 in neither (its Postgres copies, written concurrently,
      // taken out: finding F), chunk 4 (sent while chunk 3 was written) in both and finished before
      // the error, no chunk 5.
      const partial = await own.counts();
      assert.equal(partial.docs, validIn(20) + validIn(40) - validIn(30));
      assert.equal(partial.rows, partial.docs);

      const s = await processBatch(event(), quoteType, own, { ...opts, writeChunk: 10 });
      assert.deepEqual(s.stores.mongo, { written: 50 - invalid - partial.docs, alreadyPresent: partial.docs });
      assert.deepEqual(s.stores.postgres, { written: 50 - invalid - partial.rows, alreadyPresent: partial.rows });
      assert.deepEqual(await own.counts(), { rows: 50 - invalid, docs: 50 - invalid, deadLetters: invalid });
    } finally {
      await own.close();
    }
  });
});

describe('store failures and retries', () => {
  let sb: Sandbox;
  before(async () => (sb = await sandbox('retry')));
  after(() => sb.close());

  test('Postgres unreachable: the batch throws naming Postgres; the retry completes it, no duplicates in Mongo', async () => {
    const ev = eventOf(quotes(300));
    const dead = openStores(
      stackConfig({
        ...sb.env,
        POSTGRES_URL: 'postgres://mchi:secret-pw@127.0.0.1:1/simpsons',
        POSTGRES_CONNECT_TIMEOUT_MS: '500',
      }),
      quoteType,
    );
    const broken: Stores<Quote> = {
      ...sb,
      records: sb.records.map((s) => (s.name === 'postgres' ? dead.records[0] : s)),
    };
    await assert.rejects(
      processBatch(ev, quoteType, broken, opts),
      (e: unknown) =>
        e instanceof StoreWriteError &&
        e.store === 'postgres' &&
        /quotes-0@0\.\.99/.test(e.message) &&
        !/secret-pw/.test(e.message),
    );
    await dead.close();
    // The failed chunks' documents are taken out (finding F): the retry finds them in no store.
    assert.deepEqual(await sb.counts(), { rows: 0, docs: 0, deadLetters: 0 });

    const s = await processBatch(ev, quoteType, sb, opts);
    assert.deepEqual(s.stores.postgres, { written: 300, alreadyPresent: 0 });
    assert.deepEqual(s.stores.mongo, { written: 300, alreadyPresent: 0 });
    assert.deepEqual(await sb.counts(), { rows: 300, docs: 300, deadLetters: 0 });
  });

  test('dying after the Postgres write: the retry completes Mongo and leaves Postgres unchanged', async () => {
    const ev = eventOf(quotes(90, 7000), 3, 1000);
    await assert.rejects(
      processBatch(ev, quoteType, dyingAfter(sb, 'mongo'), opts),
      /fault injected into the mongo write/,
    );
    assert.deepEqual(await sb.counts(), { rows: 390, docs: 300, deadLetters: 0 });
    const s = await processBatch(ev, quoteType, sb, opts);
    assert.deepEqual(s.stores.postgres, { written: 0, alreadyPresent: 90 });
    assert.deepEqual(s.stores.mongo, { written: 90, alreadyPresent: 0 });
    assert.deepEqual(await sb.counts(), { rows: 390, docs: 390, deadLetters: 0 });
  });

  test('duplicate coordinates inside one event are written once', async () => {
    const ev = eventOf(quotes(3, 9000), 1, 2000);
    ev.records['quotes-0'].push({ ...ev.records['quotes-0'][1] });
    const s = await processBatch(ev, quoteType, sb, opts);
    assert.equal(s.duplicateInEvent, 1);
    assert.equal(s.stores.postgres.written, 3);
    assert.equal(s.stores.mongo.written, 3);
  });

  test('tombstones in delete mode remove earlier records with that key', async () => {
    const records = [
      toEventRecord({ topic: 'quotes', partition: 0, offset: 3000, timestamp: 1, key: 'Moe', value: quotes(1)[0] }),
      toEventRecord({ topic: 'quotes', partition: 0, offset: 3001, timestamp: 2, key: 'Moe', value: null }),
    ];
    const s = await processBatch(buildEvent('self-managed', 'x:1', records), quoteType, sb, { tombstones: 'delete' });
    assert.deepEqual(s.tombstones, { received: 1, deleted: 1 });
    const left = await sb.query(`select 1 from "${sb.env.POSTGRES_QUOTES_TABLE}" where kafka_key = 'Moe'`);
    assert.equal(left.length, 0);
  });
});

describe('no record content fails its batch (real stores)', () => {
  let sb: Sandbox;
  before(async () => (sb = await sandbox('isolate')));
  after(() => sb.close());
  const q = (extra: string) => `{"quote":"q","character":"c",${extra}}`;

  test('a value the Mongo server refuses is dead-lettered with its reason and kept out of Postgres; the rest is written', async () => {
    const ev = eventOf([quotes(1, 1)[0], q('"x":[[1]]'), quotes(1, 2)[0]], 1, 100);
    const s = await processBatch(ev, quoteType, sb, opts);
    assert.deepEqual(s.deadLettered.byKind, { store: 1 });
    const [dl] = await sb.query<{ offset: string; error_kind: string; error: string; value_base64: string }>(
      `select * from ${sb.tables.deadLetters}`,
    );
    assert.equal(dl.offset, '101');
    assert.equal(dl.error_kind, 'store');
    assert.match(dl.error, /^mongo refused the record: .*nested arrays/);
    assert.equal(Buffer.from(dl.value_base64, 'base64').toString(), q('"x":[[1]]'));
    assert.deepEqual(await sb.counts(), { rows: 2, docs: 2, deadLetters: 1 });
    const again = await processBatch(ev, quoteType, sb, opts);
    assert.deepEqual(again.deadLettered, { written: 0, alreadyPresent: 1, byKind: { store: 1 } });
    assert.deepEqual(await sb.counts(), { rows: 2, docs: 2, deadLetters: 1 });
  });

  test('a chunk written in slices at once (an insert command, insertMany): a collision in the first and a refusal in the second reach the right records', async () => {
    const own = await sandbox('slices');
    try {
      const values = quotes(1200, 5000);
      // One chunk of 1,200: two slices of 600, sent at once.
      const chunk = { ...opts, writeChunk: 1200 };
      await processBatch(eventOf(values.slice(0, 300), 1, 2000), quoteType, own, chunk);
      // Offsets 2000..2299 are stored; 2100 now comes with another value, 2950 with one FerretDB refuses.
      const next = [...values];
      next[100] = quotes(1, 9000)[0];
      next[950] = q('"x":[[1]]');
      // Over 2 MB of values: the second slice goes through insertMany, the first as one insert command.
      next[1000] = JSON.stringify({ quote: 'a'.repeat(2_200_000), character: 'Lisa Simpson' });
      const s = await processBatch(eventOf(next, 1, 2000), quoteType, own, chunk);
      assert.deepEqual(s.deadLettered.byKind, { collision: 1, store: 1 });
      assert.deepEqual(s.stores.mongo, { written: 899, alreadyPresent: 299 });
      assert.equal(s.stores.postgres.alreadyPresent, 299);
      const dead = await own.query<{ offset: string; error_kind: string }>(
        `select "offset", error_kind from ${own.tables.deadLetters} order by "offset"`,
      );
      assert.deepEqual(
        dead.map((d) => [d.offset, d.error_kind]),
        [
          ['2100', 'collision'],
          ['2950', 'store'],
        ],
      );
      assert.deepEqual(await own.counts(), { rows: 1199, docs: 1199, deadLetters: 2 });
      const [row] = await own.query<{ quote: string }>(`select quote from ${own.tables.records} where "offset" = 2100`);
      assert.equal(row.quote, (JSON.parse(values[100]) as Quote).quote, 'the stored record stays');
    } finally {
      await own.close();
    }
  });

  test('a duplicate on another unique Mongo index is a refusal, not "already written"', async () => {
    const own = await sandbox('uniq');
    try {
      const client = await MongoClient.connect(own.config.MONGO_URL);
      await client
        .db(own.config.MONGO_DATABASE)
        .collection(own.config.MONGO_COLLECTION)
        .createIndex({ quote: 1 }, { unique: true });
      await client.close();
      const same = JSON.stringify({ quote: 'the same quote', character: 'Homer' });
      const s = await processBatch(eventOf([same, same], 2, 0), quoteType, own, opts);
      assert.deepEqual(s.stores.mongo, { written: 1, alreadyPresent: 0 });
      assert.deepEqual(s.deadLettered.byKind, { store: 1 });
      assert.deepEqual(await own.counts(), { rows: 1, docs: 1, deadLetters: 1 });
    } finally {
      await own.close();
    }
  });

  test('timestamps out of range (9e15, -5e15) are dead-lettered, the rest written', async () => {
    const records = [9e15, -5e15, 1_700_000_000_000].map((timestamp, i) =>
      toEventRecord({ topic: 'quotes', partition: 2, offset: 500 + i, timestamp, key: null, value: quotes(1, i)[0] }),
    );
    const s = await processBatch(buildEvent('self-managed', 'x:1', records), quoteType, sb, opts);
    assert.deepEqual(s.deadLettered.byKind, { unstorable: 2 });
    assert.equal(s.stores.postgres.written, 1);
    assert.equal(s.stores.mongo.written, 1);
  });

  test('deep nesting, 1e400 and JSON that grows past 16 MB as BSON are dead-lettered, the rest written', async () => {
    const huge = `{"quote":"q","character":"c","x":[${Array(1_450_000).fill('0').join(',')}]}`;
    const values = [q(`"x":${'['.repeat(3000)}${']'.repeat(3000)}`), q('"n":1e400'), huge, quotes(1, 9)[0]];
    const s = await processBatch(eventOf(values, 1, 700), quoteType, sb, opts);
    assert.deepEqual(s.deadLettered.byKind, { unstorable: 3 });
    assert.equal(s.stores.mongo.written, 1);
  });

  test('TOMBSTONES=delete deletes within the tombstone partition only', async () => {
    const own = await sandbox('tomb');
    try {
      const r = (partition: number, offset: number, value: string | null) =>
        toEventRecord({ topic: 'quotes', partition, offset, timestamp: 1, key: 'Moe', value });
      const s = await processBatch(
        buildEvent('self-managed', 'x:1', [r(0, 10, quotes(1)[0]), r(1, 2, quotes(1, 1)[0]), r(0, 11, null)]),
        quoteType,
        own,
        { tombstones: 'delete' },
      );
      assert.deepEqual(s.tombstones, { received: 1, deleted: 1 });
      const left = await own.query<{ partition: number; offset: string }>(
        `select partition, "offset" from ${own.tables.records}`,
      );
      assert.deepEqual(left, [{ partition: 1, offset: '2' }], 'the newer record of partition 1 stays');
      assert.equal((await own.docs()).length, 1);
    } finally {
      await own.close();
    }
  });
});

describe('least privilege', () => {
  test('a role with SELECT/INSERT/DELETE (and UPDATE on dead letters) on existing tables and no CREATE writes batches', async () => {
    const sb = await sandbox('lp');
    const role = `lp_${Date.now().toString(36)}`;
    try {
      const db = new URL(sb.config.POSTGRES_URL).pathname.slice(1);
      await sb.query(`create role ${role} login password 'lp-pw'`);
      await sb.query(`revoke create on schema public from public`).catch(() => undefined);
      await sb.query(`revoke create on database "${db}" from public`);
      await sb.query(`grant usage on schema public to ${role}`);
      await sb.query(`grant select, insert, delete on ${sb.tables.records}, ${sb.tables.deadLetters} to ${role}`);
      // A replayed record that fails again re-arms its dead letter: an update.
      await sb.query(`grant update on ${sb.tables.deadLetters} to ${role}`);
      const url = new URL(sb.config.POSTGRES_URL);
      url.username = role;
      url.password = 'lp-pw';
      const limited = openStores(stackConfig({ ...sb.env, POSTGRES_URL: url.toString() }), quoteType);
      try {
        const s = await processBatch(
          eventOf([...quotes(3, 40), '{"bad":1}'], 1, 900),
          quoteType,
          { ...sb, records: [limited.records[0], sb.records[1]], deadLetters: limited.deadLetters },
          opts,
        );
        assert.equal(s.stores.postgres.written, 3);
        assert.equal(s.deadLettered.written, 1);
      } finally {
        await limited.close();
      }
    } finally {
      await sb
        .query(`revoke all on ${sb.tables.records}, ${sb.tables.deadLetters} from ${role}`)
        .catch(() => undefined);
      await sb.query(`revoke usage on schema public from ${role}`).catch(() => undefined);
      await sb.query(`drop role if exists ${role}`).catch(() => undefined);
      await sb.close();
    }
  });
});

describe('identity: only the same record counts as present', () => {
  let sb: Sandbox;
  before(async () => (sb = await sandbox('ident')));
  after(() => sb.close());

  test('a different record at stored coordinates (a re-created topic, another cluster) is a collision, not "already written"', async () => {
    const first = eventOf(quotes(3, 0), 1, 42);
    await processBatch(first, quoteType, sb, opts);
    // Same coordinates, other content and timestamps: what a re-created topic's records look like.
    const second = eventOf(quotes(3, 100), 1, 42);
    for (const r of second.records['quotes-0']) r.timestamp += 1_000_000;
    const s = await processBatch(second, quoteType, sb, opts);
    assert.deepEqual(s.stores.postgres, { written: 0, alreadyPresent: 0 });
    assert.deepEqual(s.stores.mongo, { written: 0, alreadyPresent: 0 });
    assert.deepEqual(s.deadLettered, { written: 3, alreadyPresent: 0, byKind: { collision: 3 } });
    const rows = await sb.query<{ quote: string }>(`select quote from ${sb.tables.records} order by "offset"`);
    assert.deepEqual(
      rows.map((r) => r.quote),
      JSON.parse(`[${quotes(3, 0).join(',')}]`).map((q: { quote: string }) => q.quote),
      'the stored records are untouched',
    );
    assert.equal((await sb.docs()).length, 3);
  });

  test('numbers keep every digit, and the raw value is kept byte for byte', async () => {
    const raw = '{"quote":"q",  "character":"c", "n": 9007199254740993, "f": 0.1000000000000000055511151231257827}';
    await processBatch(eventOf([raw], 1, 7000), quoteType, sb, opts);
    const [row] = await sb.query<{ n: string; raw_value: string }>(
      `select raw_value::jsonb->>'n' as n, raw_value from ${sb.tables.records} where "offset" = 7000`,
    );
    assert.equal(row.n, '9007199254740993');
    assert.equal(row.raw_value, raw);
    const doc = (await sb.docs()).find((d) => String(d._id).endsWith(':quotes-0-7000'));
    assert.equal(doc?.raw, raw);
  });

  test('tables of an earlier version get the new columns on first use', async () => {
    const own = await sandbox('migr');
    try {
      await own.query(`alter table ${own.tables.records} drop column extra, drop column raw_value`);
      const fresh = openStores(own.config, quoteType);
      try {
        const withExtra = quotes(2).map((q) => JSON.stringify({ ...JSON.parse(q), season: 4 }));
        const s = await processBatch(eventOf(withExtra, 1, 0), quoteType, fresh, opts);
        assert.equal(s.stores.postgres.written, 2);
      } finally {
        await fresh.close();
      }
      const [c] = await own.query<{ n: number; raw: number }>(
        `select count(extra)::int as n, count(raw_value)::int as raw from ${own.tables.records}`,
      );
      assert.deepEqual(c, { n: 2, raw: 0 });
    } finally {
      await own.close();
    }
  });

  test('the same coordinates on two clusters (trigger=both) are two records, both stored', async () => {
    const own = await sandbox('clusters');
    try {
      const records = quotes(2, 300).map((value, i) =>
        toEventRecord({ topic: 'quotes', partition: 0, offset: 42 + i, timestamp: 5, key: null, value }),
      );
      const msk = buildEvent('msk', 'b-1.msk:9098', records);
      const selfManaged = buildEvent('self-managed', '10.0.0.1:9092', records);
      const a = await processBatch(msk, quoteType, own, opts);
      const b = await processBatch(selfManaged, quoteType, own, opts);
      assert.equal(a.stores.postgres.written, 2);
      assert.deepEqual(b.stores.postgres, { written: 2, alreadyPresent: 0 });
      assert.deepEqual(b.stores.mongo, { written: 2, alreadyPresent: 0 });
      assert.deepEqual(await own.counts(), { rows: 4, docs: 4, deadLetters: 0 });
      const again = await processBatch(msk, quoteType, own, opts);
      assert.deepEqual(again.stores.mongo, { written: 0, alreadyPresent: 2 });
    } finally {
      await own.close();
    }
  });
});

describe('re-sent records (dead-letter replays, redrives)', () => {
  test('two copies carrying one identity in one batch are stored once, a bad one dead-lettered once', async () => {
    const own = await sandbox('resent');
    try {
      const key = 'k'.repeat(32);
      // Signed as replay and redrive sign them: the original timestamp (3) and the content's fingerprint.
      const identity = (offset: number, value: string) =>
        signIdentity(
          {
            cluster: 'AbCdEfGhIj',
            coordinates: { topic: 'quotes', partition: 1, offset },
            timestamp: 3,
            fingerprint: fingerprint({ timestamp: 3, valueBase64: Buffer.from(value).toString('base64'), headers: [] }),
          },
          key,
        );
      const copy = (offset: number, value: string, of: number) =>
        toEventRecord({
          topic: 'quotes',
          partition: 0,
          offset,
          timestamp: 7,
          key: null,
          value,
          headers: { [IDENTITY_HEADER]: identity(of, value) },
        });
      const records = [
        copy(10, quotes(1, 1)[0], 5),
        copy(11, quotes(1, 1)[0], 5),
        copy(12, '{"bad"', 6),
        copy(13, '{"bad"', 6),
      ];
      const s = await processBatch(buildEvent('self-managed', 'x:1', records), quoteType, own, {
        ...opts,
        identityKey: key,
      });
      assert.equal(s.duplicateInEvent, 2);
      assert.deepEqual(s.stores.postgres, { written: 1, alreadyPresent: 0 });
      assert.deepEqual(s.deadLettered, { written: 1, alreadyPresent: 0, byKind: { json: 1 } });
      const [row] = await own.query<{ cluster: string; partition: number; offset: string }>(
        `select cluster, partition, "offset" from ${own.tables.records}`,
      );
      assert.deepEqual(
        row,
        { cluster: 'AbCdEfGhIj', partition: 1, offset: '5' },
        'stored under the identity it carries',
      );
    } finally {
      await own.close();
    }
  });
});
