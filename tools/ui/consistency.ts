/**
 * The stores' consistency over an offset range: the records (by full identity: cluster, topic,
 * partition, offset) present in one record store and missing from the other, and their repair
 * from the stored copy, written through the sink's own store adapters (same mapping, same
 * idempotence).
 */
import { quotesRoute } from '../../lib/routes/default';
import {
  identityKey,
  toGoodRecord,
  type OffsetRange,
  type RecordInspector,
  type StoredIdentity,
} from '../../lib/sink/inspect';
import type { RecordStore } from '../../lib/sink/port';
import type { StoreName } from '../../lib/sink/port';
import type { Quote } from '../../lib/records/quote';

/** One partition's range, compared. */
export interface RangeDiff extends OffsetRange {
  /** Records stored in the range (one per identity: two clusters at one offset are two). */
  postgres: number;
  mongo: number;
  /** Offsets of the range that were dead-lettered. */
  deadLetters: number;
  /** Identities in Postgres without a copy in Mongo, and the other way round; by offset, then cluster. */
  onlyPostgres: StoredIdentity[];
  onlyMongo: StoredIdentity[];
  /** Identities both stores hold, but with different content (their fingerprints differ): never repaired. */
  differing: StoredIdentity[];
}

/** The identities whose copies in the two stores have different fingerprints (both known). */
function differing(a: readonly StoredIdentity[], b: readonly StoredIdentity[]): StoredIdentity[] {
  const printOf = new Map(b.map((i) => [identityKey(i), i.fingerprint]));
  return a.filter((i) => {
    const other = printOf.get(identityKey(i));
    return i.fingerprint !== undefined && other !== undefined && other !== i.fingerprint;
  });
}

/**
 * The identities of `these` with no copy of the same identity among `others`. Copies of one
 * identity with other content are reported apart ({@link differing}).
 */
function withoutCopy(these: readonly StoredIdentity[], others: readonly StoredIdentity[]): StoredIdentity[] {
  const same = new Set(others.map(identityKey));
  return these.filter((i) => !same.has(identityKey(i)));
}

/** Compares the stores over each range, record by record identity. */
export async function compareStores(
  stores: {
    postgres: RecordInspector;
    mongo: RecordInspector;
    deadLetters: { offsetsIn(r: OffsetRange): Promise<number[]> };
  },
  ranges: readonly OffsetRange[],
): Promise<RangeDiff[]> {
  return Promise.all(
    ranges.map(async (r) => {
      const [pg, mongo, dl] = await Promise.all([
        stores.postgres.identitiesIn(r),
        stores.mongo.identitiesIn(r),
        stores.deadLetters.offsetsIn(r),
      ]);
      return {
        ...r,
        postgres: pg.length,
        mongo: mongo.length,
        deadLetters: dl.length,
        onlyPostgres: withoutCopy(pg, mongo),
        onlyMongo: withoutCopy(mongo, pg),
        differing: differing(pg, mongo),
      };
    }),
  );
}

/** What a repair did. */
export interface RepairResult {
  written: Record<StoreName, number>;
  /** Each record that could not be repaired: its identity ({@link identityKey}) and why. */
  failed: { identity: string; reason: string }[];
}

/** Records written per store call: as the sink's write chunk. */
const CHUNK = 1_000;

/** Copies the records of `identities` from `source` into `target`, a chunk at a time. */
async function copy(
  source: RecordInspector,
  target: RecordStore<Quote>,
  identities: readonly StoredIdentity[],
  result: RepairResult,
): Promise<void> {
  for (let i = 0; i < identities.length; i += CHUNK) {
    const chunk = identities.slice(i, i + CHUNK);
    const found = await source.get(chunk);
    const records = [];
    for (const id of chunk) {
      const s = found.get(identityKey(id));
      if (!s) {
        // Gone since the comparison: nothing to copy from.
        result.failed.push({ identity: identityKey(id), reason: `no longer in ${source.name}` });
        continue;
      }
      try {
        records.push(toGoodRecord(quotesRoute(), s));
      } catch (e) {
        result.failed.push({ identity: identityKey(s), reason: (e as Error).message });
      }
    }
    if (records.length === 0) continue;
    const count = await target.write(records, new Date());
    result.written[target.name] += count.written;
    for (const r of count.rejected ?? [])
      result.failed.push({ identity: identityKey(records[r.index].meta), reason: r.reason });
  }
}

/** Writes each record present in one store only into the other, from its stored copy (exactly that identity). */
export async function repairStores(
  inspectors: { postgres: RecordInspector; mongo: RecordInspector },
  stores: readonly RecordStore<Quote>[],
  diffs: readonly RangeDiff[],
): Promise<RepairResult> {
  const result: RepairResult = { written: { postgres: 0, mongo: 0 }, failed: [] };
  const target = (name: StoreName) => stores.find((s) => s.name === name);
  const toMongo = diffs.flatMap((d) => d.onlyPostgres);
  const toPostgres = diffs.flatMap((d) => d.onlyMongo);
  const mongo = target('mongo');
  const postgres = target('postgres');
  if (mongo && toMongo.length) await copy(inspectors.postgres, mongo, toMongo, result);
  if (postgres && toPostgres.length) await copy(inspectors.mongo, postgres, toPostgres, result);
  return result;
}
