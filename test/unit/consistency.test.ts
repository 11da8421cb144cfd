/** The UI's consistency check and repair over in-memory inspectors: records are matched by full identity. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Coordinates } from '../../lib/event/coordinates';
import type { Quote } from '../../lib/records/quote';
import type { StoreName } from '../../lib/sink/port';
import {
  identityKey,
  type OffsetRange,
  type RecordInspector,
  type StoredIdentity,
  type StoredRecord,
} from '../../lib/sink/inspect';
import type { GoodRecord } from '../../lib/sink/model';
import type { RecordStore } from '../../lib/sink/port';
import { compareStores, repairStores } from '../../tools/ui/consistency';

const at = (offset: number): Coordinates => ({ topic: 't', partition: 0, offset });
const id = (cluster: string, offset: number): StoredIdentity => ({ cluster, coordinates: at(offset) });

const stored = (store: StoreName, i: StoredIdentity): StoredRecord => ({
  store,
  ...i,
  keyText: null,
  keyBase64: null,
  headers: [],
  payload: { quote: `quote of ${identityKey(i)}`, character: 'Homer' },
  rawValue: null,
  timestamp: new Date(1_700_000_000_000),
  timestampType: 'CREATE_TIME',
  ingestedAt: new Date(1_700_000_001_000),
  raw: {},
});

/** An inspector over `ids`, recording what `get` was asked for. */
function inspector(name: StoreName, ids: StoredIdentity[]): RecordInspector & { asked: string[] } {
  const asked: string[] = [];
  return {
    name,
    asked,
    find: () => Promise.reject(new Error('not used by the check')),
    count: () => Promise.resolve(ids.length),
    identitiesIn: (r: OffsetRange) =>
      Promise.resolve(ids.filter((i) => i.coordinates.offset >= r.from && i.coordinates.offset <= r.to)),
    get(wanted) {
      asked.push(...wanted.map(identityKey));
      const keys = new Set(wanted.map(identityKey));
      return Promise.resolve(
        new Map(ids.filter((i) => keys.has(identityKey(i))).map((i) => [identityKey(i), stored(name, i)])),
      );
    },
  };
}

/** A record store that keeps what it is given. */
function store(name: StoreName): RecordStore<Quote> & { got: GoodRecord<Quote>[] } {
  const got: GoodRecord<Quote>[] = [];
  return {
    name,
    got,
    ready: () => Promise.resolve(),
    write(records) {
      got.push(...records);
      return Promise.resolve({ written: records.length, alreadyPresent: 0 });
    },
    deleteRecords: () => Promise.resolve(0),
    deleteByKey: () => Promise.resolve(0),
    close: () => Promise.resolve(),
  };
}

const noDeadLetters = { offsetsIn: () => Promise.resolve([]) };
const range = { topic: 't', partition: 0, from: 0, to: 9 };

test('several clusters at one offset are several records; repair writes exactly the missing ones', async () => {
  const postgres = inspector('postgres', [id('A', 1), id('B', 1), id('A', 2)]);
  const mongo = inspector('mongo', [id('A', 1), id('A', 2), id('C', 2)]);
  const [d] = await compareStores({ records: [postgres, mongo], deadLetters: noDeadLetters }, [range]);
  assert.deepEqual(d.stored, { postgres: 3, mongo: 3 });
  assert.deepEqual(d.missing, { mongo: [id('B', 1)], postgres: [id('C', 2)] });

  const [toPostgres, toMongo] = [store('postgres'), store('mongo')];
  const r = await repairStores([postgres, mongo], [toPostgres, toMongo], [d]);
  assert.deepEqual(r, { written: { postgres: 1, mongo: 1 }, failed: [] });
  assert.deepEqual(postgres.asked, ['B/t/0/1']);
  assert.deepEqual(mongo.asked, ['C/t/0/2']);
  assert.deepEqual(
    toMongo.got.map((g) => [g.meta.cluster, g.meta.coordinates, g.value.quote]),
    [['B', at(1), 'quote of B/t/0/1']],
    "B's own copy, not A's at the same offset",
  );
  assert.deepEqual(
    toPostgres.got.map((g) => [g.meta.cluster, g.meta.coordinates.offset]),
    [['C', 2]],
  );
});

test('a record gone since the comparison is reported, not silently skipped', async () => {
  const postgres = inspector('postgres', []);
  const mongo = inspector('mongo', []);
  const diff = {
    ...range,
    stored: { postgres: 1, mongo: 0 },
    deadLetters: 0,
    missing: { mongo: [id('A', 4)], postgres: [] },
    differing: [],
  };
  const r = await repairStores([postgres, mongo], [store('postgres'), store('mongo')], [diff]);
  assert.deepEqual(r, {
    written: { postgres: 0, mongo: 0 },
    failed: [{ identity: 'A/t/0/4', reason: 'no longer in postgres' }],
  });
});

test('copies of one identity with different fingerprints are reported as differing, not missing, and not repaired', async () => {
  const range = { topic: 't', partition: 0, from: 0, to: 9 };
  const pg = [
    { ...id('A', 1), fingerprint: 'x'.repeat(22) },
    { ...id('A', 2), fingerprint: 'y'.repeat(22) },
    id('A', 3),
  ];
  const mongo = [
    { ...id('A', 1), fingerprint: 'x'.repeat(22) },
    { ...id('A', 2), fingerprint: 'z'.repeat(22) },
    { ...id('A', 3), fingerprint: 'w'.repeat(22) },
  ];
  const [d] = await compareStores(
    {
      records: [inspector('postgres', pg), inspector('mongo', mongo)],
      deadLetters: { offsetsIn: () => Promise.resolve([]) },
    },
    [range],
  );
  assert.deepEqual(d.differing.map(identityKey), ['A/t/0/2'], 'a copy without a fingerprint is not compared');
  assert.deepEqual(d.missing, { postgres: [], mongo: [] });
  const targets = [store('postgres'), store('mongo')];
  await repairStores([inspector('postgres', pg), inspector('mongo', mongo)], targets, [d]);
  assert.deepEqual(
    targets.map((t) => t.got.length),
    [0, 0],
  );
});

test('a third store, by its name: compared with the others, and repaired from whichever holds a record', async () => {
  const postgres = inspector('postgres', [id('A', 1), id('A', 2)]);
  const mongo = inspector('mongo', [id('A', 1), id('A', 3)]);
  const mem = inspector('mem', [id('A', 1), id('A', 2), { ...id('A', 1), cluster: 'B' }]);
  const [d] = await compareStores({ records: [postgres, mongo, mem], deadLetters: noDeadLetters }, [range]);
  assert.deepEqual(d.stored, { postgres: 2, mongo: 2, mem: 3 });
  assert.deepEqual(d.missing, {
    postgres: [id('B', 1), id('A', 3)],
    mongo: [id('B', 1), id('A', 2)],
    mem: [id('A', 3)],
  });
  const targets = [store('postgres'), store('mongo'), store('mem')];
  const r = await repairStores([postgres, mongo, mem], targets, [d]);
  assert.deepEqual(r, { written: { postgres: 2, mongo: 2, mem: 1 }, failed: [] });
  assert.deepEqual(
    targets.map((t) => t.got.map((g) => identityKey({ cluster: g.meta.cluster, coordinates: g.meta.coordinates }))),
    [['B/t/0/1', 'A/t/0/3'], ['B/t/0/1', 'A/t/0/2'], ['A/t/0/3']],
  );
  // Each copy from the first other store holding it: postgres is asked first, then the next.
  assert.deepEqual(mongo.asked, ['B/t/0/1', 'A/t/0/3', 'A/t/0/3']);
});
