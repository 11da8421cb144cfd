/** Store selection (SINK_STORES) against the real stack: one store only, and where dead letters go then. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MongoClient } from 'mongodb';
import pg from 'pg';
import { toSignedBytes } from '../../tools/emulator/event';
import { eventClusterKey, IDENTITY_HEADER } from '../../lib/event/coordinates';
import { decodeHeaders } from '../../lib/event/decode';
import { fingerprint, signIdentity } from '../../lib/event/identity';
import type { KafkaEvent, KafkaEventRecord } from '../../lib/event/types';
import { quoteType } from '../helpers/quote-type';
import { processBatch } from '../../lib/sink/batch';
import { openStores, type OpenStores } from '../../lib/stores';
import { qualifiedTable } from '../../lib/postgres/names';
import type { Quote } from '../../lib/records/quote';
import { stackConfig, uniqueName } from '../helpers/env';
import { fixture } from '../helpers/factories';

const opts = { tombstones: 'skip' as const };

/** The event of one record's replay, as `dead-letters replay` sends it: a new offset and time, its identity signed. */
function replayOf(ev: KafkaEvent, partition: string, offset: number): KafkaEvent {
  const r = ev.records[partition].find((x) => x.offset === offset) as KafkaEventRecord;
  const print = fingerprint({
    timestamp: r.timestamp,
    keyBase64: r.key,
    valueBase64: r.value,
    headers: decodeHeaders(r.headers),
  });
  const coordinates = { topic: r.topic, partition: r.partition, offset };
  const identity = { cluster: eventClusterKey(ev), coordinates, timestamp: r.timestamp, fingerprint: print };
  const header = signIdentity(identity, stackConfig().SINK_IDENTITY_KEY as string);
  const copy = {
    ...r,
    offset: 9_000,
    timestamp: Date.now(),
    headers: [...r.headers, { [IDENTITY_HEADER]: toSignedBytes(Buffer.from(header)) }],
  };
  return { ...ev, records: { [partition]: [copy] } };
}

/** Stores on names of their own, with `stores` as SINK_STORES; counts what landed where. */
async function lane(stores: string) {
  const id = uniqueName('sel').toLowerCase();
  const config = stackConfig({
    SINK_STORES: stores,
    POSTGRES_QUOTES_TABLE: `${id}_quotes`,
    POSTGRES_DEAD_LETTER_TABLE: `${id}_dl`,
    MONGO_COLLECTION: `${id}_quotes`,
    MONGO_DEAD_LETTER_COLLECTION: `${id}_dl`,
  });
  const mongo = await MongoClient.connect(config.MONGO_URL);
  const db = mongo.db(config.MONGO_DATABASE);
  const pgClient = new pg.Client({ connectionString: config.POSTGRES_URL });
  await pgClient.connect();
  const tableRows = async (which: 'records' | 'deadLetters') => {
    const r = await pgClient.query<{ there: boolean }>(`select to_regclass($1) is not null as there`, [
      qualifiedTable(config, which),
    ]);
    if (!r.rows[0].there) return null;
    return (await pgClient.query<{ n: number }>(`select count(*)::int as n from ${qualifiedTable(config, which)}`))
      .rows[0].n;
  };
  return {
    config,
    db,
    /** Rows in the Postgres tables (null: no such table), documents in both collections. */
    counts: async () => ({
      rows: await tableRows('records'),
      pgDeadLetters: await tableRows('deadLetters'),
      docs: await db.collection(config.MONGO_COLLECTION).countDocuments(),
      mongoDeadLetters: await db.collection(config.MONGO_DEAD_LETTER_COLLECTION).countDocuments(),
    }),
    async close() {
      await pgClient.query(
        `drop table if exists ${qualifiedTable(config, 'records')}, ${qualifiedTable(config, 'deadLetters')}`,
      );
      await db
        .collection(config.MONGO_COLLECTION)
        .drop()
        .catch(() => undefined);
      await db
        .collection(config.MONGO_DEAD_LETTER_COLLECTION)
        .drop()
        .catch(() => undefined);
      await Promise.all([mongo.close(), pgClient.end()]);
    },
  };
}

describe('SINK_STORES=mongo: MongoDB only, dead letters in a MongoDB collection', () => {
  let l: Awaited<ReturnType<typeof lane>>;
  let stores: OpenStores<Quote>;
  before(async () => {
    l = await lane('mongo');
    stores = openStores(l.config, quoteType);
  });
  after(async () => {
    await stores.close();
    await l.close();
  });

  test('the fixture: documents and dead letters in MongoDB, nothing in Postgres', async () => {
    const s = await processBatch(fixture('msk-event.json'), quoteType, stores, opts);
    assert.deepEqual(s.stores.mongo, { written: 4, alreadyPresent: 0 });
    assert.deepEqual(s.stores.postgres, { written: 0, alreadyPresent: 0 });
    assert.deepEqual(s.deadLettered, { written: 2, alreadyPresent: 0, byKind: { json: 1, schema: 1 } });
    assert.deepEqual(await l.counts(), { rows: null, pgDeadLetters: null, docs: 4, mongoDeadLetters: 2 });
    const dl = await l.db.collection(l.config.MONGO_DEAD_LETTER_COLLECTION).find().sort({ offset: 1 }).toArray();
    assert.deepEqual(
      dl.map((d) => [d.partition, d.offset, d.errorKind, d.replayedAt]),
      [
        [1, 101, 'json', null],
        [1, 102, 'schema', null],
      ],
    );
    assert.equal(Buffer.from(String(dl[0].valueBase64), 'base64').toString(), '{"quote": "Ha-ha!", "character": ');
  });

  test('again: everything present, dead letters included; a replayed dead letter that fails again is pending again', async () => {
    const s = await processBatch(fixture('msk-event.json'), quoteType, stores, opts);
    assert.deepEqual(s.stores.mongo, { written: 0, alreadyPresent: 4 });
    assert.deepEqual(s.deadLettered, { written: 0, alreadyPresent: 2, byKind: { json: 1, schema: 1 } });
    const dls = l.db.collection(l.config.MONGO_DEAD_LETTER_COLLECTION);
    await dls.updateOne({ offset: 101 }, { $set: { replayedAt: new Date() } });
    // The original read again (a backfill) leaves the replayed dead letter as it is…
    const backfill = await processBatch(fixture('msk-event.json'), quoteType, stores, opts);
    assert.deepEqual(backfill.deadLettered, { written: 0, alreadyPresent: 2, byKind: { json: 1, schema: 1 } });
    assert.notEqual((await dls.findOne({ offset: 101 }))?.replayedAt, null);
    // …its replay (a re-sent copy with its signed identity) failing again makes it pending again.
    const again = await processBatch(replayOf(fixture('msk-event.json'), 'quotes-1', 101), quoteType, stores, {
      ...opts,
      identityKey: l.config.SINK_IDENTITY_KEY,
    });
    assert.deepEqual(again.deadLettered, { written: 1, alreadyPresent: 0, byKind: { json: 1 } });
    assert.equal((await dls.findOne({ offset: 101 }))?.replayedAt, null);
  });
});

describe('SINK_STORES=postgres: Postgres only', () => {
  let l: Awaited<ReturnType<typeof lane>>;
  let stores: OpenStores<Quote>;
  before(async () => {
    l = await lane('postgres');
    stores = openStores(l.config, quoteType);
  });
  after(async () => {
    await stores.close();
    await l.close();
  });

  test('the fixture: rows and dead letters in Postgres, nothing in MongoDB', async () => {
    const s = await processBatch(fixture('msk-event.json'), quoteType, stores, opts);
    assert.deepEqual(s.stores.postgres, { written: 4, alreadyPresent: 0 });
    assert.deepEqual(s.stores.mongo, { written: 0, alreadyPresent: 0 });
    assert.deepEqual(await l.counts(), { rows: 4, pgDeadLetters: 2, docs: 0, mongoDeadLetters: 0 });
    const again = await processBatch(fixture('msk-event.json'), quoteType, stores, opts);
    assert.deepEqual(again.stores.postgres, { written: 0, alreadyPresent: 4 });
  });
});
