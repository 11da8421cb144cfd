/**
 * Issue 19: one identity (cluster id + coordinates), one content fingerprint, signed carried
 * identities. Each test is one finding of the review, on the real stores: what lands in the tables,
 * the collection and the dead letters.
 */
import assert from 'node:assert/strict';
import { MongoClient } from 'mongodb';
import { describe, test } from 'node:test';
import { buildEvent, toEventRecord, type SourceMessage } from '../../tools/emulator/event';
import { IDENTITY_HEADER } from '../../lib/event/coordinates';
import { fingerprint, signIdentity } from '../../lib/event/identity';
import { redriveMessage } from '../../tools/replay/redrive';
import { createKafka } from '../../tools/kafka';
import { quoteType } from '../helpers/quote-type';
import { IncompleteBatchError, processBatch, type BatchOptions } from '../../lib/sink/batch';
import { DeadLetters } from '../../tools/replay/dead-letters';
import { openStores } from '../../lib/stores';
import { stackConfig } from '../helpers/env';
import { failWhile } from '../helpers/faults';
import { quotes, sandbox, type Sandbox } from '../helpers/sink';

const KEY = 'a-test-identity-key-of-32-chars!';
const opts: BatchOptions = { tombstones: 'skip', identityKey: KEY };
const rec = (m: Partial<SourceMessage> & { offset: number; value: SourceMessage['value'] }) =>
  toEventRecord({ topic: 'quotes', partition: 0, timestamp: 1_700_000_000_000 + m.offset, key: 'k', ...m });
const event = (records: ReturnType<typeof rec>[], servers = '127.0.0.1:9092') =>
  buildEvent('self-managed', servers, records);
const b64 = (s: string) => Buffer.from(s).toString('base64');

/** The header a replay or redrive would send for `value` re-sent as `coordinates` of `cluster`. */
function signedFor(
  value: string | null,
  at: { cluster: string; topic: string; partition: number; offset: number; timestamp: number; key?: string | null },
  key = KEY,
  headers: { name: string; value: string }[] = [],
): string {
  const keyBase64 = at.key === null ? null : b64(at.key ?? 'k');
  const valueBase64 = value === null ? null : b64(value);
  const print = fingerprint({ timestamp: at.timestamp, keyBase64, valueBase64, headers });
  return signIdentity(
    {
      cluster: at.cluster,
      coordinates: { topic: at.topic, partition: at.partition, offset: at.offset },
      timestamp: at.timestamp,
      fingerprint: print,
    },
    key,
  );
}

async function deadLetters(sb: Sandbox) {
  return sb.query<{
    topic: string;
    offset: string;
    error_kind: string;
    value_base64: string | null;
    replayed_at: Date | null;
  }>(
    `select topic, "offset", error_kind, value_base64, replayed_at from ${sb.tables.deadLetters} order by failed_at, value_base64`,
  );
}

async function withSandbox(name: string, fn: (sb: Sandbox) => Promise<void>): Promise<void> {
  const sb = await sandbox(name);
  try {
    await fn(sb);
  } finally {
    await sb.close();
  }
}

describe('finding 1: a store refusal removes only the copies its own write made', () => {
  test('a row an earlier batch stored survives a Mongo refusal of the same record in a backfill', () =>
    withSandbox('comp', async (sb) => {
      const [q0, q1] = quotes(2, 10);
      const ev = event([rec({ offset: 0, value: q0 }), rec({ offset: 1, value: q1 })]);
      const pgOnly = openStores(stackConfig({ ...sb.env, SINK_STORES: 'postgres' }), quoteType);
      try {
        await processBatch(ev, quoteType, pgOnly, opts);
      } finally {
        await pgOnly.close();
      }
      // Mongo added, with a unique index that refuses the first record.
      const client = await MongoClient.connect(sb.config.MONGO_URL);
      try {
        const col = client.db(sb.config.MONGO_DATABASE).collection(sb.config.MONGO_COLLECTION);
        await col.createIndex({ quote: 1 }, { unique: true });
        await col.insertOne({ _id: 'someone-else' as never, quote: JSON.parse(q0).quote });
        const s = await processBatch(ev, quoteType, sb, opts);
        assert.deepEqual(s.stores.postgres, { written: 0, alreadyPresent: 2 });
        assert.deepEqual(s.deadLettered.byKind, { store: 1 });
      } finally {
        await client.close();
      }
      const rows = await sb.query<{ offset: string }>(`select "offset" from ${sb.tables.records} order by "offset"`);
      assert.deepEqual(
        rows.map((r) => r.offset),
        ['0', '1'],
        'the row stored before stays: this write did not make it',
      );
    }));

  test('a copy this write made is still taken out when the other store refuses the record', () =>
    withSandbox('comp2', async (sb) => {
      const [q0] = quotes(1, 20);
      const client = await MongoClient.connect(sb.config.MONGO_URL);
      try {
        const col = client.db(sb.config.MONGO_DATABASE).collection(sb.config.MONGO_COLLECTION);
        await col.createIndex({ quote: 1 }, { unique: true });
        await col.insertOne({ _id: 'someone-else' as never, quote: JSON.parse(q0).quote });
        const s = await processBatch(event([rec({ offset: 0, value: q0 })]), quoteType, sb, opts);
        assert.deepEqual(s.deadLettered.byKind, { store: 1 });
      } finally {
        await client.close();
      }
      assert.equal((await sb.counts()).rows, 0, 'in exactly one place: the dead letters');
    }));
});

describe('finding 2: dead letters are the same only when their bytes are', () => {
  test('a different bad record at a dead letter’s identity (a re-created topic) gets a row of its own', () =>
    withSandbox('dl2', async (sb) => {
      await processBatch(event([rec({ offset: 5, value: '{"bad"' })]), quoteType, sb, opts);
      const s = await processBatch(event([rec({ offset: 5, value: '{"worse"' })]), quoteType, sb, opts);
      assert.deepEqual(
        { written: s.deadLettered.written, present: s.deadLettered.alreadyPresent },
        { written: 1, present: 0 },
      );
      const again = await processBatch(event([rec({ offset: 5, value: '{"worse"' })]), quoteType, sb, opts);
      assert.equal(again.deadLettered.alreadyPresent, 1, 'the same bytes again are already there');
      const dls = await deadLetters(sb);
      assert.deepEqual(dls.map((d) => d.value_base64).sort(), [b64('{"bad"'), b64('{"worse"')].sort());
    }));

  test('after a replay, another record failing at that identity does not re-arm the first one’s row', () =>
    withSandbox('dl3', async (sb) => {
      await processBatch(event([rec({ offset: 5, value: '{"bad"' })]), quoteType, sb, opts);
      await sb.query(`update ${sb.tables.deadLetters} set replayed_at = now()`);
      await processBatch(event([rec({ offset: 5, value: '{"worse"' })]), quoteType, sb, opts);
      const dls = await deadLetters(sb);
      assert.equal(dls.length, 2);
      const worse = dls.find((d) => d.value_base64 === b64('{"worse"'));
      assert.ok(worse, 'the second record’s bytes are kept');
      assert.equal(worse.replayed_at, null, 'and pending');
      assert.notEqual(dls.find((d) => d.value_base64 === b64('{"bad"'))?.replayed_at, null, 'the first stays replayed');
    }));

  test('a second collision at a stored identity is a dead letter too, not "already there"', () =>
    withSandbox('dl4', async (sb) => {
      const [a, b, c] = quotes(3, 30);
      await processBatch(event([rec({ offset: 7, value: a })]), quoteType, sb, opts);
      await processBatch(event([rec({ offset: 7, value: b })]), quoteType, sb, opts);
      const s = await processBatch(event([rec({ offset: 7, value: c })]), quoteType, sb, opts);
      assert.deepEqual(s.deadLettered.byKind, { collision: 1 });
      assert.equal(s.deadLettered.written, 1);
      const dls = await deadLetters(sb);
      assert.deepEqual(dls.map((d) => d.value_base64).sort(), [b64(b), b64(c)].sort());
    }));

  test('the MongoDB dead-letter collection tells two records at one identity apart too', () =>
    withSandbox('dl5', async (sb) => {
      const mongoOnly = openStores(
        stackConfig({ ...sb.env, SINK_STORES: 'mongo', MONGO_DEAD_LETTER_COLLECTION: `${sb.env.MONGO_COLLECTION}_dl` }),
        quoteType,
      );
      const client = await MongoClient.connect(sb.config.MONGO_URL);
      try {
        await processBatch(event([rec({ offset: 5, value: '{"bad"' })]), quoteType, mongoOnly, opts);
        const s = await processBatch(event([rec({ offset: 5, value: '{"worse"' })]), quoteType, mongoOnly, opts);
        assert.equal(s.deadLettered.written, 1);
        const col = client.db(sb.config.MONGO_DATABASE).collection(`${sb.env.MONGO_COLLECTION}_dl`);
        const docs = await col.find().toArray();
        assert.deepEqual(docs.map((d) => d.valueBase64).sort(), [b64('{"bad"'), b64('{"worse"')].sort());
        await col.drop();
      } finally {
        await mongoOnly.close();
        await client.close();
      }
    }));
});

describe('finding 5: tombstones with partial batch responses', () => {
  test('a tombstone in a chunk before a failed chunk is applied before the retry starts after it', () =>
    withSandbox('tomb', async (sb) => {
      const [q0, q1, q2, q3] = quotes(4, 40);
      const records = [
        rec({ offset: 0, key: 'gone', value: q0 }),
        rec({ offset: 1, key: 'gone', value: null }),
        rec({ offset: 2, key: 'x', value: q1 }),
        rec({ offset: 3, key: 'x', value: q2 }),
        rec({ offset: 4, key: 'y', value: q3 }),
      ];
      let calls = 0;
      // The second chunk's Postgres write fails: the first chunk (with the tombstone) is written.
      const flaky = failWhile(sb, 'postgres', () => ++calls === 2);
      const options: BatchOptions = { ...opts, tombstones: 'delete', partialResponse: true, writeChunk: 2 };
      await assert.rejects(processBatch(event(records), quoteType, flaky, options), /batch incomplete/);
      // The mapping retries from offset 2 only.
      await processBatch(event(records.slice(2)), quoteType, sb, options);
      const rows = await sb.query<{ kafka_key: string }>(
        `select kafka_key from ${sb.tables.records} order by "offset"`,
      );
      assert.deepEqual(
        rows.map((r) => r.kafka_key),
        ['x', 'x', 'y'],
        'the key the tombstone deleted is gone',
      );
      const docs = await sb.docs();
      assert.ok(!docs.some((d) => (d.kafka as { key?: string }).key === 'gone'));
    }));
});

describe('finding 7: only a signed identity is carried', () => {
  test('an identity header any producer set is refused: stored as nothing else, kept as a forged dead letter', () =>
    withSandbox('forge', async (sb) => {
      const [real, fake] = quotes(2, 50);
      const victim = { cluster: 'AbCdEfGhIj', topic: 'orders', partition: 0, offset: 3, timestamp: 5 };
      // The earlier, unsigned form, and a signature made with another key.
      const forged = [
        rec({ topic: 'quotes', offset: 10, value: fake, headers: { [IDENTITY_HEADER]: 'AbCdEfGhIj/orders/0/3' } }),
        rec({
          topic: 'quotes',
          offset: 11,
          value: fake,
          headers: { [IDENTITY_HEADER]: signedFor(fake, victim, 'another-key-of-the-same-length!!') },
        }),
      ];
      const s = await processBatch(event(forged), quoteType, sb, opts);
      assert.deepEqual(s.deadLettered.byKind, { forged: 2 });
      assert.equal((await sb.counts()).rows, 0);
      const dls = await deadLetters(sb);
      assert.deepEqual(
        dls.map((d) => [d.topic, d.offset, d.error_kind]),
        [
          ['quotes', '10', 'forged'],
          ['quotes', '11', 'forged'],
        ],
      );
      // The victim's real record is stored as itself, no collision.
      const own = await processBatch(
        buildEvent('self-managed', '127.0.0.1:9092', [
          toEventRecord({ topic: 'orders', partition: 0, offset: 3, timestamp: 5, key: 'k', value: real }),
        ]),
        quoteType,
        sb,
        opts,
      );
      assert.deepEqual(own.stores.postgres, { written: 1, alreadyPresent: 0 });
    }));

  test('a signed header copied onto other content is refused', () =>
    withSandbox('forge2', async (sb) => {
      const [a, b] = quotes(2, 60);
      const header = signedFor(a, { cluster: 'AbCdEfGhIj', topic: 'quotes', partition: 1, offset: 4, timestamp: 9 });
      const s = await processBatch(
        event([rec({ offset: 20, value: b, headers: { [IDENTITY_HEADER]: header } })]),
        quoteType,
        sb,
        opts,
      );
      assert.deepEqual(s.deadLettered.byKind, { forged: 1 });
      const rows = await sb.query<{ partition: number }>(`select partition from ${sb.tables.records}`);
      assert.deepEqual(rows, []);
    }));

  test('a forged tombstone deletes nothing of another topic', () =>
    withSandbox('forge3', async (sb) => {
      const [q] = quotes(1, 70);
      const other = buildEvent('self-managed', '127.0.0.1:9092', [
        toEventRecord({ topic: 'orders', partition: 0, offset: 0, timestamp: 1, key: 'k', value: q }),
      ]);
      const d: BatchOptions = { ...opts, tombstones: 'delete' };
      await processBatch(other, quoteType, sb, d);
      const cluster = (await sb.query<{ cluster: string }>(`select cluster from ${sb.tables.records}`))[0].cluster;
      const tomb = rec({ offset: 0, value: null, headers: { [IDENTITY_HEADER]: `${cluster}/orders/0/9` } });
      const s = await processBatch(event([tomb]), quoteType, sb, d);
      assert.equal(s.tombstones.deleted, 0);
      assert.deepEqual(await sb.counts(), { rows: 1, docs: 1, deadLetters: 1 });
    }));

  test('a valid carried identity keeps its record’s identity and original timestamp; a different record at one identity in one event is a collision', () =>
    withSandbox('carry', async (sb) => {
      const [a, b] = quotes(2, 80);
      const at = { cluster: 'AbCdEfGhIj', topic: 'quotes', partition: 2, offset: 6, timestamp: 1_600_000_000_000 };
      const records = [
        rec({ offset: 30, value: a, headers: { [IDENTITY_HEADER]: signedFor(a, at) } }),
        rec({ offset: 31, value: b, headers: { [IDENTITY_HEADER]: signedFor(b, at) } }),
      ];
      const s = await processBatch(event(records), quoteType, sb, opts);
      assert.deepEqual(s.stores.postgres, { written: 1, alreadyPresent: 0 });
      assert.deepEqual(s.deadLettered.byKind, { collision: 1 }, 'never dropped');
      const [row] = await sb.query<{
        cluster: string;
        partition: number;
        offset: string;
        kafka_timestamp: Date;
        headers: unknown;
      }>(`select cluster, partition, "offset", kafka_timestamp, headers from ${sb.tables.records}`);
      assert.deepEqual(
        { ...row, kafka_timestamp: row.kafka_timestamp.getTime() },
        { cluster: 'AbCdEfGhIj', partition: 2, offset: '6', kafka_timestamp: at.timestamp, headers: [] },
        'the identity, original timestamp and headers of the record it re-sends',
      );
      const [dl] = await deadLetters(sb);
      assert.equal(dl.value_base64, b64(b));
    }));
});

describe('finding 8: the cluster is named by its id, not by how the brokers are spelled', () => {
  test('the same records under other broker names and the other event shape are already there', () =>
    withSandbox('cluster', async (sb) => {
      const records = quotes(3, 90).map((value, i) => rec({ offset: i, value }));
      const d: BatchOptions = { ...opts, clusterId: 'MkU3OEVBNTcwNTJENDM2Qk' };
      await processBatch(event(records, 'localhost:9092'), quoteType, sb, d);
      const again = await processBatch(event(records, '127.0.0.1:9092,127.0.0.2:9092'), quoteType, sb, d);
      assert.deepEqual(again.stores.postgres, { written: 0, alreadyPresent: 3 });
      const msk = await processBatch(buildEvent('msk', 'b-1.msk:9098', records), quoteType, sb, d);
      assert.deepEqual(msk.stores.mongo, { written: 0, alreadyPresent: 3 });
      assert.deepEqual(await sb.counts(), { rows: 3, docs: 3, deadLetters: 0 });
    }));
});

describe('finding 8: a topic whose cluster key changes is named', () => {
  test('records of one topic under a new broker list without a cluster id: the summary warns, naming both keys', () =>
    withSandbox('clwarn', async (sb) => {
      const records = quotes(2, 95).map((value, i) => rec({ offset: i, value }));
      const first = await processBatch(event(records, '10.1.0.1:9092'), quoteType, sb, opts);
      assert.equal(first.warnings, undefined);
      const second = await processBatch(event(records, '10.1.0.1:9092,10.1.0.2:9092'), quoteType, sb, opts);
      assert.equal(second.warnings?.length, 1);
      const keys = (await sb.query<{ cluster: string }>(`select distinct cluster from ${sb.tables.records}`)).map(
        (r) => r.cluster,
      );
      assert.equal(keys.length, 2, 'stored again under the new key: what the warning is about');
      for (const k of keys) assert.ok(second.warnings?.[0].includes(k), second.warnings?.[0]);
      const third = await processBatch(event(records, '10.1.0.1:9092,10.1.0.2:9092'), quoteType, sb, opts);
      assert.equal(third.warnings?.length, 1, 'every batch of such a topic says it');
    }));
});

describe('finding 16: timestamps no store can spell', () => {
  test('records from year 10000 and year 0 are dead letters that keep their timestamp; the batch is written', () =>
    withSandbox('ts', async (sb) => {
      const [q0, q1, q2] = quotes(3, 100);
      const y10000 = Date.parse('+010000-01-01T00:00:00.000Z');
      const y0 = Date.parse('0000-06-01T00:00:00.000Z');
      const records = [
        rec({ offset: 0, value: q0, timestamp: y10000 }),
        rec({ offset: 1, value: q1, timestamp: y0 }),
        rec({ offset: 2, value: q2 }),
      ];
      const s = await processBatch(event(records), quoteType, sb, opts);
      assert.deepEqual(s.deadLettered.byKind, { unstorable: 2 });
      const dls = await sb.query<{ kafka_timestamp: Date | null; timestamp_ms: string }>(
        `select kafka_timestamp, timestamp_ms from ${sb.tables.deadLetters} order by "offset"`,
      );
      assert.deepEqual(dls, [
        { kafka_timestamp: null, timestamp_ms: String(y10000) },
        { kafka_timestamp: null, timestamp_ms: String(y0) },
      ]);
      assert.equal((await sb.counts()).rows, 1);
    }));
});

describe('finding 18: a screened record keeps its headers and carried identity', () => {
  test('a value whose BSON would pass 16 MB is dead-lettered with its headers, under the identity it carries', () =>
    withSandbox('screen', async (sb) => {
      const huge = JSON.stringify({ quote: 'q', character: 'c', zeros: new Array(2_500_000).fill(0) });
      const at = { cluster: 'AbCdEfGhIj', topic: 'quotes', partition: 1, offset: 77, timestamp: 3 };
      const header = signedFor(huge, at, KEY, [{ name: 'source', value: 'api' }]);
      const r = toEventRecord({
        topic: 'quotes',
        partition: 0,
        offset: 5,
        timestamp: 9,
        key: 'k',
        value: huge,
        headers: { [IDENTITY_HEADER]: header, source: 'api' },
      });
      const s = await processBatch(event([r]), quoteType, sb, opts);
      assert.deepEqual(s.deadLettered.byKind, { unstorable: 1 });
      const [dl] = await sb.query<{ cluster: string; partition: number; offset: string; headers: unknown }>(
        `select cluster, partition, "offset", headers from ${sb.tables.deadLetters}`,
      );
      assert.deepEqual(dl, {
        cluster: 'AbCdEfGhIj',
        partition: 1,
        offset: '77',
        headers: [{ name: 'source', value: 'api' }],
      });
    }));
});

describe('finding 19: a byte-order mark is part of the record', () => {
  test('a value and a header value starting with a BOM keep it in both stores; the text without it is another record', () =>
    withSandbox('bom', async (sb) => {
      const [q] = quotes(1, 110);
      const withBom = `\ufeff${q}`;
      const s = await processBatch(
        event([rec({ offset: 0, value: withBom, headers: { h: '\ufeffv' } })]),
        quoteType,
        sb,
        opts,
      );
      assert.equal(s.valid, 1);
      const [row] = await sb.query<{ raw_value: string | null; headers: { value: string }[] }>(
        `select raw_value, headers from ${sb.tables.records}`,
      );
      assert.equal(row.raw_value, withBom);
      assert.equal(row.headers[0].value, '\ufeffv');
      const [doc] = await sb.docs();
      assert.equal(doc.raw, withBom);
      assert.deepEqual((doc.kafka as { headers: unknown }).headers, { h: '\ufeffv' });
      const again = await processBatch(
        event([rec({ offset: 0, value: q, headers: { h: '\ufeffv' } })]),
        quoteType,
        sb,
        opts,
      );
      assert.deepEqual(again.deadLettered.byKind, { collision: 1 });
    }));
});

describe('finding 20: header names as they were, in their order', () => {
  test('integer-like header names come back from MongoDB in the order they were sent', () =>
    withSandbox('hdr', async (sb) => {
      const [q] = quotes(1, 120);
      // One object per header, as AWS sends them: the order is the producer's.
      const r = rec({ offset: 0, value: q });
      r.headers = ['b', '10', '2'].map((name) => ({ [name]: [0x76] }));
      await processBatch(event([r]), quoteType, sb, opts);
      const [doc] = await sb.docs();
      const headers = (doc.kafka as { headers: unknown }).headers;
      const names = Array.isArray(headers)
        ? headers.map((h: { name: string }) => h.name)
        : Object.keys(headers as object);
      assert.deepEqual(names, ['b', '10', '2']);
    }));
});

describe('lifecycle test findings', () => {
  test('A: the original read again after its dead letter was replayed leaves the dead letter replayed; a re-sent copy failing re-arms it', () =>
    withSandbox('rearm', async (sb) => {
      await processBatch(event([rec({ offset: 5, value: '{"bad"' })]), quoteType, sb, opts);
      await sb.query(`update ${sb.tables.deadLetters} set replayed_at = now()`);
      const backfill = await processBatch(event([rec({ offset: 5, value: '{"bad"' })]), quoteType, sb, opts);
      assert.equal(backfill.deadLettered.alreadyPresent, 1);
      assert.notEqual((await deadLetters(sb))[0].replayed_at, null, 'not re-armed by the original');
      const at = {
        cluster: (await sb.query<{ cluster: string }>(`select cluster from ${sb.tables.deadLetters}`))[0].cluster,
        topic: 'quotes',
        partition: 0,
        offset: 5,
        timestamp: 1_700_000_000_005,
      };
      const copy = rec({
        offset: 40,
        value: '{"bad"',
        timestamp: 9,
        headers: { [IDENTITY_HEADER]: signedFor('{"bad"', at) },
      });
      await processBatch(event([copy]), quoteType, sb, opts);
      const dls = await deadLetters(sb);
      assert.equal(dls.length, 1);
      assert.equal(dls[0].replayed_at, null, 'the replay failed again: pending');
    }));

  test('A: an original and its replay in one event, both failing: the replay re-arms the dead letter', () =>
    withSandbox('rearm2', async (sb) => {
      await processBatch(event([rec({ offset: 5, value: '{"bad"' })]), quoteType, sb, opts);
      await sb.query(`update ${sb.tables.deadLetters} set replayed_at = now()`);
      const cluster = (await sb.query<{ cluster: string }>(`select cluster from ${sb.tables.deadLetters}`))[0].cluster;
      const at = { cluster, topic: 'quotes', partition: 0, offset: 5, timestamp: 1_700_000_000_005 };
      const copy = rec({
        offset: 41,
        value: '{"bad"',
        timestamp: 9,
        headers: { [IDENTITY_HEADER]: signedFor('{"bad"', at) },
      });
      await processBatch(event([rec({ offset: 5, value: '{"bad"' }), copy]), quoteType, sb, opts);
      const dls = await deadLetters(sb);
      assert.equal(dls.length, 1);
      assert.equal(dls[0].replayed_at, null, 'its replay failed again: pending');
    }));

  test('A: a dead letter fixed in its row and replayed is not re-armed by a later re-send of the original bytes', () =>
    withSandbox('rearm3', async (sb) => {
      await processBatch(event([rec({ offset: 5, value: '{"bad"' })]), quoteType, sb, opts);
      const [q] = quotes(1, 720);
      await sb.query(`update ${sb.tables.deadLetters} set value_base64 = $1, replayed_at = now()`, [b64(q)]);
      const cluster = (await sb.query<{ cluster: string }>(`select cluster from ${sb.tables.deadLetters}`))[0].cluster;
      const at = { cluster, topic: 'quotes', partition: 0, offset: 5, timestamp: 1_700_000_000_005 };
      // A redrive of the original failure, still in the destination when the row was fixed.
      const copy = rec({
        offset: 42,
        value: '{"bad"',
        timestamp: 9,
        headers: { [IDENTITY_HEADER]: signedFor('{"bad"', at) },
      });
      await processBatch(event([copy]), quoteType, sb, opts);
      const [dl] = await deadLetters(sb);
      assert.notEqual(dl.replayed_at, null, 'the fixed replay is what was sent');
    }));

  test('B: a replayed dead letter still in flight is superseded by a tombstone of its key, and its failing copy leaves it so', () =>
    withSandbox('supinflight', async (sb) => {
      const d: BatchOptions = { ...opts, tombstones: 'delete' };
      await processBatch(event([rec({ offset: 1, key: 'gone', value: '{"bad"' })]), quoteType, sb, d);
      await sb.query(`update ${sb.tables.deadLetters} set replayed_at = now()`);
      await processBatch(event([rec({ offset: 2, key: 'gone', value: null })]), quoteType, sb, d);
      const cluster = (await sb.query<{ cluster: string }>(`select cluster from ${sb.tables.deadLetters}`))[0].cluster;
      const at = { cluster, topic: 'quotes', partition: 0, offset: 1, timestamp: 1_700_000_000_001, key: 'gone' };
      const copy = rec({
        offset: 50,
        key: 'gone',
        value: '{"bad"',
        timestamp: 9,
        headers: { [IDENTITY_HEADER]: signedFor('{"bad"', at) },
      });
      await processBatch(event([copy]), quoteType, sb, d);
      const [dl] = await sb.query<{ superseded_by: string | null; replayed_at: Date | null }>(
        `select superseded_by, replayed_at from ${sb.tables.deadLetters}`,
      );
      assert.equal(dl.superseded_by, '2');
      assert.notEqual(dl.replayed_at, null, 'not pending again: a tombstone made it moot');
    }));

  test('C: a redrive leaves an identity header that does not verify as it is: the copy is refused again, not stored', () =>
    withSandbox('launder', async (sb) => {
      const [q] = quotes(1, 700);
      const forged = rec({ offset: 3, value: q, headers: { [IDENTITY_HEADER]: 'AbCdEfGhIj/orders/0/3' } });
      const first = await processBatch(event([forged]), quoteType, sb, opts);
      assert.deepEqual(first.deadLettered.byKind, { forged: 1 });
      const message = redriveMessage(forged, 'AbCdEfGhIj', KEY);
      assert.equal(String(message.headers?.[IDENTITY_HEADER]), 'AbCdEfGhIj/orders/0/3');
      const copy = toEventRecord({
        topic: 'quotes',
        partition: 0,
        offset: 60,
        timestamp: 9,
        key: 'k',
        value: q,
        headers: { [IDENTITY_HEADER]: 'AbCdEfGhIj/orders/0/3' },
      });
      const again = await processBatch(event([copy]), quoteType, sb, opts);
      assert.deepEqual(again.deadLettered.byKind, { forged: 1 });
      assert.equal((await sb.counts()).rows, 0);
    }));

  test('G: a refused record stored by a later read of it leaves its store dead letter, which a replay then skips', () =>
    withSandbox('settled', async (sb) => {
      const [q0, q1] = quotes(2, 720);
      const ev = event([rec({ offset: 0, value: q0 }), rec({ offset: 1, value: q1 })]);
      const client = await MongoClient.connect(sb.config.MONGO_URL);
      try {
        const col = client.db(sb.config.MONGO_DATABASE).collection(sb.config.MONGO_COLLECTION);
        await col.createIndex({ quote: 1 }, { unique: true });
        await col.insertOne({ _id: 'blocker' as never, quote: JSON.parse(q0).quote });
        const first = await processBatch(ev, quoteType, sb, opts);
        assert.deepEqual(first.deadLettered.byKind, { store: 1 });
        await col.deleteOne({ _id: 'blocker' as never });
        // The original read again (a backfill, the mapping's retry): now both stores keep it.
        const again = await processBatch(ev, quoteType, sb, opts);
        assert.deepEqual(again.stores.postgres, { written: 1, alreadyPresent: 1 });
        assert.equal(await col.countDocuments({ _id: { $ne: 'blocker' as never } }), 2);
      } finally {
        await client.close();
      }
      const [dl] = await sb.query<{ stored_at: Date | null; replayed_at: Date | null }>(
        `select stored_at, replayed_at from ${sb.tables.deadLetters}`,
      );
      assert.notEqual(dl.stored_at, null, 'the record is stored: its dead letter is not pending');
      assert.equal(dl.replayed_at, null);
      const replay = await new DeadLetters(sb.config).replay(createKafka(sb.config, 'identity-test'), { all: true });
      assert.deepEqual([replay.replayed, replay.missingTopics], [[], []], 'nothing to replay');
    }));

  test('G: the MongoDB dead-letter collection marks a refused record stored by a later read too', () =>
    withSandbox('settled2', async (sb) => {
      const dlName = `${sb.env.MONGO_COLLECTION}_dl`;
      const mongoOnly = openStores(
        stackConfig({ ...sb.env, SINK_STORES: 'mongo', MONGO_DEAD_LETTER_COLLECTION: dlName }),
        quoteType,
      );
      const client = await MongoClient.connect(sb.config.MONGO_URL);
      try {
        const [q0] = quotes(1, 730);
        const col = client.db(sb.config.MONGO_DATABASE).collection(sb.config.MONGO_COLLECTION);
        await col.createIndex({ quote: 1 }, { unique: true });
        await col.insertOne({ _id: 'blocker' as never, quote: JSON.parse(q0).quote });
        const ev = event([rec({ offset: 4, value: q0 })]);
        assert.deepEqual((await processBatch(ev, quoteType, mongoOnly, opts)).deadLettered.byKind, { store: 1 });
        await col.deleteOne({ _id: 'blocker' as never });
        assert.equal((await processBatch(ev, quoteType, mongoOnly, opts)).stores.mongo.written, 1);
        const dls = client.db(sb.config.MONGO_DATABASE).collection(dlName);
        const [dl] = await dls.find().toArray();
        assert.ok(dl.storedAt instanceof Date, 'the record is stored: its dead letter is not pending');
        await dls.drop();
      } finally {
        await mongoOnly.close();
        await client.close();
      }
    }));

  test('G: with partial responses, a refused record stored in a chunk before a failed one is settled before the retry', () =>
    withSandbox('settled3', async (sb) => {
      const [q0, q1, q2] = quotes(3, 740);
      const ev = event([rec({ offset: 0, value: q0 }), rec({ offset: 1, value: q1 }), rec({ offset: 2, value: q2 })]);
      const client = await MongoClient.connect(sb.config.MONGO_URL);
      try {
        const col = client.db(sb.config.MONGO_DATABASE).collection(sb.config.MONGO_COLLECTION);
        await col.createIndex({ quote: 1 }, { unique: true });
        await col.insertOne({ _id: 'blocker' as never, quote: JSON.parse(q0).quote });
        assert.deepEqual((await processBatch(ev, quoteType, sb, opts)).deadLettered.byKind, { store: 1 });
        await col.deleteOne({ _id: 'blocker' as never });
      } finally {
        await client.close();
      }
      let calls = 0;
      const flaky = failWhile(sb, 'postgres', () => ++calls === 2);
      const partial = { ...opts, partialResponse: true, writeChunk: 1 };
      await assert.rejects(processBatch(ev, quoteType, flaky, partial), IncompleteBatchError);
      const [dl] = await sb.query<{ stored_at: Date | null }>(`select stored_at from ${sb.tables.deadLetters}`);
      assert.notEqual(dl.stored_at, null, 'the chunk that stored it was written; the retry starts after it');
    }));

  test('D: an old topic’s tombstone replayed into the re-created topic supersedes only what was produced before it', () =>
    withSandbox('incarnation', async (sb) => {
      const d: BatchOptions = { ...opts, tombstones: 'delete' };
      const OLD = 1_600_000_000_000;
      const [q0, q1, q2, q3] = quotes(4, 750);
      // The re-created topic's records of key k at offsets the old topic's tombstone (offset 5) had
      // passed, and one left over from the old topic (older than the tombstone).
      const leftover = rec({ offset: 2, value: q2, timestamp: OLD - 10 });
      const fresh = [rec({ offset: 0, value: q0 }), rec({ offset: 1, value: q1 }), leftover];
      const oldBad = rec({ offset: 4, value: '{"old"', timestamp: OLD - 5 });
      const newBad = rec({ offset: 3, value: '{"new"' });
      await processBatch(event([...fresh, newBad, oldBad]), quoteType, sb, d);
      const cluster = (await sb.query<{ cluster: string }>(`select cluster from ${sb.tables.records}`))[0].cluster;
      const at = { cluster, topic: 'quotes', partition: 0, offset: 5, timestamp: OLD, key: 'k' };
      const tomb = rec({ offset: 80, value: null, timestamp: 9, headers: { [IDENTITY_HEADER]: signedFor(null, at) } });
      const s = await processBatch(event([tomb]), quoteType, sb, d);
      assert.equal(s.tombstones.deleted, 1, 'the old topic’s own record goes');
      const rows = await sb.query<{ offset: string }>(`select "offset" from ${sb.tables.records} order by "offset"`);
      assert.deepEqual(
        rows.map((r) => r.offset),
        ['0', '1'],
      );
      const client = await MongoClient.connect(sb.config.MONGO_URL);
      try {
        const col = client.db(sb.config.MONGO_DATABASE).collection(sb.config.MONGO_COLLECTION);
        assert.equal(await col.countDocuments(), 2, 'MongoDB keeps the new topic’s two records too');
      } finally {
        await client.close();
      }
      const dls = await sb.query<{ offset: string; superseded_by: string | null }>(
        `select "offset", superseded_by from ${sb.tables.deadLetters} order by "offset"`,
      );
      assert.deepEqual(dls, [
        { offset: '3', superseded_by: null },
        { offset: '4', superseded_by: '5' },
      ]);
      // A redrive of a re-created topic's record at an offset below the remembered tombstone is stored.
      const copyAt = { cluster, topic: 'quotes', partition: 0, offset: 3, timestamp: 1_700_000_000_003, key: 'k' };
      const copy = rec({ offset: 81, value: q3, timestamp: 9, headers: { [IDENTITY_HEADER]: signedFor(q3, copyAt) } });
      const again = await processBatch(event([copy]), quoteType, sb, d);
      assert.equal(again.superseded, 0);
      assert.equal(again.stores.postgres.written, 1);
    }));

  test('D: the MongoDB dead-letter store remembers a replayed tombstone with its time too', () =>
    withSandbox('incarnation2', async (sb) => {
      const dlName = `${sb.env.MONGO_COLLECTION}_dl`;
      const mongoOnly = openStores(
        stackConfig({ ...sb.env, SINK_STORES: 'mongo', MONGO_DEAD_LETTER_COLLECTION: dlName }),
        quoteType,
      );
      const client = await MongoClient.connect(sb.config.MONGO_URL);
      const d: BatchOptions = { ...opts, tombstones: 'delete' };
      try {
        const OLD = 1_600_000_000_000;
        const [q0, q1] = quotes(2, 760);
        await processBatch(
          event([rec({ offset: 0, value: q0 }), rec({ offset: 1, value: '{"new"' })]),
          quoteType,
          mongoOnly,
          d,
        );
        const col = client.db(sb.config.MONGO_DATABASE).collection(sb.config.MONGO_COLLECTION);
        const cluster = String((await col.findOne())?._id).split(':')[0];
        const at = { cluster, topic: 'quotes', partition: 0, offset: 5, timestamp: OLD, key: 'k' };
        const tomb = rec({
          offset: 80,
          value: null,
          timestamp: 9,
          headers: { [IDENTITY_HEADER]: signedFor(null, at) },
        });
        await processBatch(event([tomb]), quoteType, mongoOnly, d);
        assert.equal(await col.countDocuments(), 1, 'the new topic’s record stays');
        const dls = client.db(sb.config.MONGO_DATABASE).collection(dlName);
        assert.equal(await dls.countDocuments({ supersededBy: { $exists: true } }), 0);
        const copyAt = { cluster, topic: 'quotes', partition: 0, offset: 2, timestamp: 1_700_000_000_002, key: 'k' };
        const copy = rec({
          offset: 81,
          value: q1,
          timestamp: 9,
          headers: { [IDENTITY_HEADER]: signedFor(q1, copyAt) },
        });
        const again = await processBatch(event([copy]), quoteType, mongoOnly, d);
        assert.deepEqual([again.superseded, again.stores.mongo.written], [0, 1]);
        await dls.drop();
        await client.db(sb.config.MONGO_DATABASE).collection(`${dlName}_tombstones`).drop();
      } finally {
        await mongoOnly.close();
        await client.close();
      }
    }));

  test('F: a record one store wrote in a failed batch, refused by the other on the retry, is in its dead letter alone', () =>
    withSandbox('partialcopy', async (sb) => {
      const [q0, q1] = quotes(2, 770);
      const ev = event([rec({ offset: 0, value: q0 }), rec({ offset: 1, value: q1 })]);
      await assert.rejects(
        processBatch(
          ev,
          quoteType,
          failWhile(sb, 'mongo', () => true),
          opts,
        ),
      );
      assert.equal((await sb.counts()).rows, 0, 'the failed batch leaves no copy in Postgres');
      const client = await MongoClient.connect(sb.config.MONGO_URL);
      try {
        const col = client.db(sb.config.MONGO_DATABASE).collection(sb.config.MONGO_COLLECTION);
        await col.createIndex({ quote: 1 }, { unique: true });
        await col.insertOne({ _id: 'blocker' as never, quote: JSON.parse(q0).quote });
        const retry = await processBatch(ev, quoteType, sb, opts);
        assert.deepEqual(retry.deadLettered.byKind, { store: 1 });
        assert.equal(await col.countDocuments({ _id: { $ne: 'blocker' as never } }), 1);
      } finally {
        await client.close();
      }
      const rows = await sb.query<{ offset: string }>(`select "offset" from ${sb.tables.records} order by "offset"`);
      assert.deepEqual(
        rows.map((r) => r.offset),
        ['1'],
        'the refused record is in no store',
      );
    }));

  test('F: a failed chunk’s documents come out of MongoDB when Postgres failed (300 records)', () =>
    withSandbox('partialcopy2', async (sb) => {
      const values = quotes(300, 780);
      const ev = event(values.map((value, offset) => rec({ offset, value })));
      await assert.rejects(
        processBatch(
          ev,
          quoteType,
          failWhile(sb, 'postgres', () => true),
          opts,
        ),
      );
      assert.equal((await sb.counts()).docs, 0, 'the failed batch leaves no copy in MongoDB');
      const s = await processBatch(ev, quoteType, sb, opts);
      assert.deepEqual([s.stores.postgres.written, s.stores.mongo.written], [300, 300]);
    }));

  test('A: an original and its replay in one event, refused by a store: the replay re-arms the store dead letter', () =>
    withSandbox('refusedtwice', async (sb) => {
      const [q] = quotes(1, 790);
      const original = rec({ offset: 6, value: q });
      const client = await MongoClient.connect(sb.config.MONGO_URL);
      try {
        const col = client.db(sb.config.MONGO_DATABASE).collection(sb.config.MONGO_COLLECTION);
        await col.createIndex({ quote: 1 }, { unique: true });
        await col.insertOne({ _id: 'blocker' as never, quote: JSON.parse(q).quote });
        await processBatch(event([original]), quoteType, sb, opts);
        await sb.query(`update ${sb.tables.deadLetters} set replayed_at = now()`);
        const cluster = (await sb.query<{ cluster: string }>(`select cluster from ${sb.tables.deadLetters}`))[0]
          .cluster;
        const at = { cluster, topic: 'quotes', partition: 0, offset: 6, timestamp: 1_700_000_000_006 };
        const copy = rec({ offset: 90, value: q, timestamp: 9, headers: { [IDENTITY_HEADER]: signedFor(q, at) } });
        // A new group reads the topic from its start: the original, then its replay.
        const s = await processBatch(event([original, copy]), quoteType, sb, opts);
        assert.deepEqual(s.deadLettered.byKind, { store: 1 });
      } finally {
        await client.close();
      }
      const [dl] = await sb.query<{ replayed_at: Date | null }>(`select replayed_at from ${sb.tables.deadLetters}`);
      assert.equal(dl.replayed_at, null, 'the replay failed again: its dead letter is pending');
    }));

  test('E: a tombstone and a re-sent record at one identity in one event: the record is stored, not a collision', () =>
    withSandbox('tombfirst', async (sb) => {
      const [q] = quotes(1, 800);
      const first = await processBatch(event([rec({ offset: 1, value: q })]), quoteType, sb, opts);
      assert.equal(first.stores.postgres.written, 1);
      const cluster = (await sb.query<{ cluster: string }>(`select cluster from ${sb.tables.records}`))[0].cluster;
      await sb.query(`delete from ${sb.tables.records}`);
      const [q2] = quotes(1, 801);
      // A re-created topic: its tombstone at offset 0, and the replay of the old topic's record 0.
      const at = { cluster, topic: 'quotes', partition: 0, offset: 0, timestamp: 1_600_000_000_000 };
      const copy = rec({ offset: 91, value: q2, timestamp: 9, headers: { [IDENTITY_HEADER]: signedFor(q2, at) } });
      const s = await processBatch(event([rec({ offset: 0, key: 'other', value: null }), copy]), quoteType, sb, opts);
      assert.deepEqual(s.deadLettered.byKind, {});
      assert.deepEqual([s.stores.postgres.written, s.stores.mongo.written], [1, 1]);
    }));

  test('a row from before fingerprints is never taken for the record read again: the record is a collision, kept', () =>
    withSandbox('nofp', async (sb) => {
      const [q] = quotes(1, 810);
      const ev = event([rec({ offset: 3, value: q })]);
      await processBatch(ev, quoteType, sb, opts);
      await sb.query(`update ${sb.tables.records} set fingerprint = null`);
      const again = await processBatch(ev, quoteType, sb, opts);
      assert.deepEqual(again.deadLettered.byKind, { collision: 1 });
      const dls = await deadLetters(sb);
      assert.deepEqual(
        dls.map((d) => d.value_base64),
        [b64(q)],
      );
    }));

  test('E: a dead letter and a record at one identity in one event: the record is not a collision', () =>
    withSandbox('deadfirst', async (sb) => {
      const [q] = quotes(1, 710);
      const at = { cluster: 'AbCdEfGhIj', topic: 'quotes', partition: 0, offset: 8, timestamp: 1_700_000_000_008 };
      const stored = await processBatch(
        event([rec({ offset: 8, value: q })]),
        quoteType,
        { ...sb },
        { ...opts, clusterId: undefined },
      );
      assert.equal(stored.stores.postgres.written, 1);
      const cluster = (await sb.query<{ cluster: string }>(`select cluster from ${sb.tables.records}`))[0].cluster;
      const bad = rec({
        offset: 70,
        value: '{"bad"',
        timestamp: 9,
        headers: { [IDENTITY_HEADER]: signedFor('{"bad"', { ...at, cluster }) },
      });
      const s = await processBatch(event([bad, rec({ offset: 8, value: q })]), quoteType, sb, opts);
      assert.deepEqual(s.stores.postgres, { written: 0, alreadyPresent: 1 });
      assert.deepEqual(s.deadLettered.byKind, { json: 1 });
    }));
});
