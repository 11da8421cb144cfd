/**
 * The stores' consistency over an offset range: coordinates present in one record store and
 * missing from the other, and their repair from the stored payload, written through the sink's
 * own store adapters (same mapping, same idempotence).
 */
import { formatCoordinates, type Coordinates } from '../event/coordinates';
import { quoteType } from '../records/quote';
import { toGoodRecord, type OffsetRange, type RecordInspector } from '../sink/inspect';
import type { RecordStore } from '../sink/port';
import type { StoreName } from '../errors';
import type { Quote } from '../records/quote';

/** One partition's range, compared. */
export interface RangeDiff extends OffsetRange {
  postgres: number;
  mongo: number;
  deadLetters: number;
  /** Offsets in Postgres and not in Mongo, and the other way round. */
  onlyPostgres: number[];
  onlyMongo: number[];
}

const minus = (a: readonly number[], b: readonly number[]) => {
  const bs = new Set(b);
  return a.filter((x) => !bs.has(x));
};

/** Compares the stores over each range. */
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
        stores.postgres.offsetsIn(r),
        stores.mongo.offsetsIn(r),
        stores.deadLetters.offsetsIn(r),
      ]);
      return {
        ...r,
        postgres: pg.length,
        mongo: mongo.length,
        deadLetters: dl.length,
        onlyPostgres: minus(pg, mongo),
        onlyMongo: minus(mongo, pg),
      };
    }),
  );
}

/** What a repair did. */
export interface RepairResult {
  written: Record<StoreName, number>;
  failed: { coordinates: string; reason: string }[];
}

/** Records written per store call: as the sink's write chunk. */
const CHUNK = 1_000;

/** Copies the records at `coordinates` from `source` into `target`, a chunk at a time. */
async function copy(
  source: RecordInspector,
  target: RecordStore<Quote>,
  coordinates: Coordinates[],
  result: RepairResult,
): Promise<void> {
  for (let i = 0; i < coordinates.length; i += CHUNK) {
    const found = [...(await source.find(coordinates.slice(i, i + CHUNK))).values()];
    const records = [];
    for (const s of found) {
      try {
        records.push(toGoodRecord(quoteType, s));
      } catch (e) {
        result.failed.push({ coordinates: formatCoordinates(s.coordinates), reason: (e as Error).message });
      }
    }
    const count = await target.write(records, new Date());
    result.written[target.name] += count.written;
    for (const r of count.rejected ?? [])
      result.failed.push({ coordinates: formatCoordinates(records[r.index].meta.coordinates), reason: r.reason });
  }
}

/** Writes each record present in one store into the other, from the stored payload. */
export async function repairStores(
  inspectors: { postgres: RecordInspector; mongo: RecordInspector },
  stores: readonly RecordStore<Quote>[],
  diffs: readonly RangeDiff[],
): Promise<RepairResult> {
  const result: RepairResult = { written: { postgres: 0, mongo: 0 }, failed: [] };
  const target = (name: StoreName) => stores.find((s) => s.name === name);
  const at = (d: RangeDiff, offsets: number[]) =>
    offsets.map((offset) => ({ topic: d.topic, partition: d.partition, offset }));
  const toMongo = diffs.flatMap((d) => at(d, d.onlyPostgres));
  const toPostgres = diffs.flatMap((d) => at(d, d.onlyMongo));
  const mongo = target('mongo');
  const postgres = target('postgres');
  if (mongo && toMongo.length) await copy(inspectors.postgres, mongo, toMongo, result);
  if (postgres && toPostgres.length) await copy(inspectors.mongo, postgres, toPostgres, result);
  return result;
}
