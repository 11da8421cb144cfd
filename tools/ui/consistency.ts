/**
 * The stores' consistency over an offset range: the records (by full identity: cluster, topic,
 * partition, offset) present in one record store and missing from another, for every record store
 * by name, and their repair from a stored copy, written through the sink's own store adapters
 * (same mapping, same idempotence).
 */
import { quotesRoute } from '../../lib/routes/default';
import {
  byOffsetThenCluster,
  identityKey,
  toGoodRecord,
  type StoredRecord,
  type OffsetRange,
  type RecordInspector,
  type StoredIdentity,
} from '../../lib/sink/inspect';
import type { RecordStore, StoreName } from '../../lib/sink/port';
import type { Quote } from '../../lib/records/quote';

/** One partition's range, compared. */
export interface RangeDiff extends OffsetRange {
  /** Records stored in the range, by store name (one per identity: two clusters at one offset are two). */
  stored: Record<StoreName, number>;
  /** Offsets of the range that were dead-lettered. */
  deadLetters: number;
  /** By store name: the identities another store holds and this one has no copy of; by offset, then cluster. */
  missing: Record<StoreName, StoredIdentity[]>;
  /** Identities two stores hold, but with different content (their fingerprints differ): never repaired. */
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

/** `lists` as one, each identity once (the first copy), by offset then cluster. */
function union(lists: readonly (readonly StoredIdentity[])[]): StoredIdentity[] {
  const seen = new Map<string, StoredIdentity>();
  for (const i of lists.flat()) if (!seen.has(identityKey(i))) seen.set(identityKey(i), i);
  return [...seen.values()].sort(byOffsetThenCluster);
}

/**
 * The identities of `others` with no copy of the same identity in `these`. Copies of one
 * identity with other content are reported apart ({@link differing}).
 */
function lacking(these: readonly StoredIdentity[], others: readonly (readonly StoredIdentity[])[]): StoredIdentity[] {
  const same = new Set(these.map(identityKey));
  return union(others.map((o) => o.filter((i) => !same.has(identityKey(i)))));
}

/** One range compared, from each store's identities in it (`held[k]` is `names[k]`'s). */
function diffOf(r: OffsetRange, names: readonly StoreName[], held: StoredIdentity[][], dead: number[]): RangeDiff {
  const stored: Record<StoreName, number> = {};
  const missing: Record<StoreName, StoredIdentity[]> = {};
  const differs: StoredIdentity[][] = [];
  names.forEach((name, k) => {
    stored[name] = held[k].length;
    missing[name] = lacking(
      held[k],
      held.filter((_, j) => j !== k),
    );
    for (let j = k + 1; j < held.length; j++) differs.push(differing(held[k], held[j]));
  });
  return { ...r, stored, deadLetters: dead.length, missing, differing: union(differs) };
}

/** Compares the record stores over each range, record by record identity. */
export async function compareStores(
  stores: {
    records: readonly RecordInspector[];
    deadLetters: { offsetsIn(r: OffsetRange): Promise<number[]> };
  },
  ranges: readonly OffsetRange[],
): Promise<RangeDiff[]> {
  const names = stores.records.map((s) => s.name);
  return Promise.all(
    ranges.map(async (r) => {
      const [dead, held] = await Promise.all([
        stores.deadLetters.offsetsIn(r),
        Promise.all(stores.records.map((s) => s.identitiesIn(r))),
      ]);
      return diffOf(r, names, held, dead);
    }),
  );
}

/** What a repair did. */
export interface RepairResult {
  /** Records written, by store name (every store, 0 for those that lacked nothing). */
  written: Record<StoreName, number>;
  /** Each record that could not be repaired: its identity ({@link identityKey}) and why. */
  failed: { identity: string; reason: string }[];
}

/** Records written per store call: as the sink's write chunk. */
const CHUNK = 1_000;

/** The stored copies of `chunk`, from the first of `sources` that holds each. */
async function copiesOf(
  sources: readonly RecordInspector[],
  chunk: readonly StoredIdentity[],
): Promise<Map<string, StoredRecord>> {
  const found = new Map<string, StoredRecord>();
  for (const source of sources) {
    const wanted = chunk.filter((id) => !found.has(identityKey(id)));
    if (wanted.length === 0) break;
    for (const [key, s] of await source.get(wanted)) found.set(key, s);
  }
  return found;
}

/** Copies the records of `identities` from the first of `sources` holding each into `target`, a chunk at a time. */
async function copy(
  sources: readonly RecordInspector[],
  target: RecordStore<Quote>,
  identities: readonly StoredIdentity[],
  result: RepairResult,
): Promise<void> {
  for (let i = 0; i < identities.length; i += CHUNK) {
    const chunk = identities.slice(i, i + CHUNK);
    const found = await copiesOf(sources, chunk);
    const records = [];
    for (const id of chunk) {
      const s = found.get(identityKey(id));
      if (!s) {
        // Gone since the comparison: nothing to copy from.
        const from = sources.map((x) => x.name).join(' or ');
        result.failed.push({ identity: identityKey(id), reason: `no longer in ${from}` });
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

/**
 * Writes each record a store lacks into it, from the stored copy of another store that holds it
 * (exactly that identity), through the store's writer of the same name.
 */
export async function repairStores(
  inspectors: readonly RecordInspector[],
  stores: readonly RecordStore<Quote>[],
  diffs: readonly RangeDiff[],
): Promise<RepairResult> {
  const result: RepairResult = { written: Object.fromEntries(inspectors.map((s) => [s.name, 0])), failed: [] };
  for (const inspector of inspectors) {
    const target = stores.find((s) => s.name === inspector.name);
    const missing = diffs.flatMap((d) => d.missing[inspector.name] ?? []);
    if (!target || missing.length === 0) continue;
    await copy(
      inspectors.filter((s) => s !== inspector),
      target,
      missing,
      result,
    );
  }
  return result;
}
