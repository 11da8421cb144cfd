/**
 * The UI's consistency check and repair against the real stores: records are compared by their
 * full identity (cluster, topic, partition, offset), so two clusters' records at one offset are
 * two records, and repair writes exactly the copy that is missing.
 */
import type { StoredIdentity } from '../../lib/sink/inspect';
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { MongoClient } from 'mongodb';
import pg from 'pg';
import { buildEvent, LOCAL_MSK_ARN, toEventRecord } from '../../tools/emulator/event';
import { clusterKey, clusterName, storedId } from '../../lib/event/coordinates';
import { quoteType } from '../helpers/quote-type';
import { processBatch } from '../../lib/sink/batch';
import { MongoRecordInspector } from '../../lib/mongo/inspect';
import { mongoTargetFrom } from '../../lib/mongo/store';
import { PostgresDeadLetterInspector, PostgresRecordInspector } from '../../lib/postgres/inspect';
import { tablesFrom } from '../../lib/postgres/names';
import { compareStores, repairStores } from '../../tools/ui/consistency';
import { uniqueName } from '../helpers/env';
import { quotes, sandbox, type Sandbox } from '../helpers/sink';

/** An identity without the copy's fingerprint (which the check reads too, to compare content). */
const identityOnly = (i: StoredIdentity) => ({ cluster: i.cluster, coordinates: i.coordinates });

const opts = { tombstones: 'skip' as const };

let sb: Sandbox;
let pool: pg.Pool;
let mongo: MongoClient;

before(async () => {
  sb = await sandbox('consist');
  pool = new pg.Pool({ connectionString: sb.config.POSTGRES_URL, max: 2 });
  mongo = await MongoClient.connect(sb.config.MONGO_URL);
});

after(async () => {
  await mongo?.close();
  await pool?.end();
  await sb?.close();
});

/** The UI's inspectors on the sandbox; the Mongo one told of no cluster at all (the check must not need it). */
const inspectors = () => ({
  records: [
    new PostgresRecordInspector(pool, tablesFrom(sb.config), quoteType),
    new MongoRecordInspector(mongo, mongoTargetFrom(sb.config), [], quoteType),
  ],
  deadLetters: new PostgresDeadLetterInspector(pool, tablesFrom(sb.config)),
});

test('two clusters at one offset, one missing from Mongo: reported by identity, repaired once', async () => {
  const topic = uniqueName('t_consist');
  const at = { topic, partition: 0, offset: 7 };
  const [valueA, valueB] = quotes(2, 900);
  const record = (value: string) => toEventRecord({ ...at, timestamp: 1700000000007, key: 'k', value });
  // Cluster A: the emulator's MSK-shaped events; cluster B: a self-managed cluster.
  const a = clusterKey(clusterName({ eventSourceArn: LOCAL_MSK_ARN }));
  const b = clusterKey(clusterName({ bootstrapServers: '10.9.9.9:9092' }));
  await processBatch(buildEvent('msk', 'b-1.msk:9098', [record(valueA)]), quoteType, sb, opts);
  await processBatch(buildEvent('self-managed', '10.9.9.9:9092', [record(valueB)]), quoteType, sb, opts);

  const docs = mongo.db(sb.config.MONGO_DATABASE).collection<{ _id: string }>(sb.config.MONGO_COLLECTION);
  const originalB = await docs.findOne({ _id: storedId(b, at) });
  assert.ok(originalB, "B's document was written");
  await docs.deleteOne({ _id: storedId(b, at) });
  assert.deepEqual(
    (await docs.find({}, { projection: { _id: 1 } }).toArray()).map((d) => d._id),
    [storedId(a, at)],
    "only A's document is left",
  );

  const range = { topic, partition: 0, from: 0, to: 10 };
  const [diff] = await compareStores(inspectors(), [range]);
  assert.equal(diff.stored.postgres, 2, 'two rows: one per cluster');
  assert.equal(diff.stored.mongo, 1);
  assert.deepEqual(
    diff.missing.mongo.map(identityOnly),
    [{ cluster: b, coordinates: at }],
    "B's record is missing from Mongo",
  );
  assert.deepEqual(diff.differing, []);
  assert.deepEqual(diff.missing.postgres, []);

  const repaired = await repairStores(inspectors().records, sb.records, [diff]);
  assert.deepEqual(repaired, { written: { postgres: 0, mongo: 1 }, failed: [] });
  const copyB = await docs.findOne({ _id: storedId(b, at) });
  assert.ok(copyB, "B's document is back");
  assert.deepEqual(
    { ...copyB, ingestedAt: undefined },
    { ...originalB, ingestedAt: undefined },
    'rebuilt as the sink wrote it',
  );
  // The same content as B's row (not A's, which holds another quote).
  const [rowB] = await sb.query<{ quote: string; character: string }>(
    `select quote, character from ${sb.tables.records} where cluster = $1 and topic = $2`,
    [b, topic],
  );
  const doc = copyB as unknown as { quote: string; character: string };
  assert.deepEqual({ quote: doc.quote, character: doc.character }, { quote: rowB.quote, character: rowB.character });
  assert.equal(doc.quote, JSON.parse(valueB).quote);
  assert.notEqual(doc.quote, JSON.parse(valueA).quote);
  assert.deepEqual(await sb.counts(), { rows: 2, docs: 2, deadLetters: 0 });

  const [after] = await compareStores(inspectors(), [range]);
  assert.deepEqual(
    [after.missing.mongo, after.missing.postgres, after.stored.postgres, after.stored.mongo],
    [[], [], 2, 2],
  );
  const again = await repairStores(inspectors().records, sb.records, [after]);
  assert.deepEqual(again, { written: { postgres: 0, mongo: 0 }, failed: [] }, 'a second repair writes nothing');
  assert.deepEqual(await sb.counts(), { rows: 2, docs: 2, deadLetters: 0 });
});
