/** The sink's Postgres tables, as descriptors: records of a type, applied tombstones, clusters (dead letters: dead-letters.ts). */
import type { RecordMeta } from '../event/decode';
import type { RecordType } from '../records/record-type';
import type { GoodRecord } from '../sink/model';
import type { SqlColumn, TableSpec } from './table-spec';

/** The second {@link isoTime} formatted last, and its text up to the milliseconds. */
let lastSecond = Number.NaN;
let lastSecondText = '';

/**
 * `new Date(ms).toISOString()`, a chunk's worth at a time: records of one second share the
 * formatting of that second (formatting a Date was a tenth of a row's cost).
 */
export function isoTime(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== lastSecond) {
    lastSecondText = new Date(second * 1000).toISOString().slice(0, -4);
    lastSecond = second;
  }
  return `${lastSecondText}${String(ms - second * 1000).padStart(3, '0')}Z`;
}

/** The batch time last formatted: every record of a batch shares one Date. */
let lastBatch: Date | undefined;
let lastBatchText = '';

/** A batch's time as ISO text, formatted once per batch (not through {@link isoTime}'s one-second cache). */
function batchTime(at: Date): string {
  if (at !== lastBatch) {
    lastBatchText = at.toISOString();
    lastBatch = at;
  }
  return lastBatchText;
}

/** Columns every table keyed by a record's identity starts with: its cluster and coordinates. */
export function coordinateColumns<S>(meta: (s: S) => RecordMeta): SqlColumn<S>[] {
  return [
    // Defaults to the key of no cluster ('', lib/event/coordinates.ts), as rows written by hand get it.
    { name: 'cluster', sqlType: 'text', notNull: true, default: "''", from: (s) => meta(s).cluster },
    { name: 'topic', sqlType: 'text', notNull: true, from: (s) => meta(s).coordinates.topic },
    { name: 'partition', sqlType: 'integer', notNull: true, from: (s) => meta(s).coordinates.partition },
    { name: 'offset', sqlType: 'bigint', notNull: true, from: (s) => meta(s).coordinates.offset },
  ];
}

/** A record's identity: the primary key of the tables keyed by it. */
export const IDENTITY = ['cluster', 'topic', 'partition', 'offset'] as const;

/**
 * A stored row `t` and an incoming record `x` at the same coordinates are different records (a
 * re-created topic, another cluster) when their fingerprints differ. A row without one (written
 * before fingerprints) cannot be told to be the same: it counts as another record, so the incoming
 * one is a collision dead letter, kept, rather than taken for "already there" and dropped.
 */
const RECORD_DIFFERS = 't."fingerprint" is distinct from x."fingerprint"';

/**
 * The records table of `type`: coordinates, the key once, the type's columns, the value's other
 * fields (`extra`, json: kept as sent) or its raw text when those would not rebuild it
 * (`raw_value`), headers and times.
 */
export function recordsTable<T>(type: RecordType<T>): TableSpec<GoodRecord<T>> {
  const meta = (g: GoodRecord<T>) => g.meta;
  return {
    columns: [
      ...coordinateColumns(meta),
      { name: 'kafka_key', sqlType: 'text', from: (g) => g.key.text ?? null },
      { name: 'kafka_key_base64', sqlType: 'text', from: (g) => g.key.base64 ?? null },
      ...type.columns.map((c): SqlColumn<GoodRecord<T>> => {
        const field = c.field;
        return { ...c, from: field ? (g) => g.parts.fields[field] ?? null : (g) => c.from(g.value) };
      }),
      { name: 'extra', sqlType: 'json', from: (g) => g.parts.extra ?? null },
      { name: 'raw_value', sqlType: 'text', from: (g) => g.parts.raw ?? null },
      { name: 'headers', sqlType: 'jsonb', notNull: true, default: "'[]'", from: (g) => g.meta.headers },
      { name: 'kafka_timestamp', sqlType: 'timestamptz', notNull: true, from: (g) => isoTime(g.meta.timestamp) },
      { name: 'timestamp_type', sqlType: 'text', notNull: true, from: (g) => g.meta.timestampType },
      // Every row written has one; nullable only as the column was added to tables holding rows.
      { name: 'fingerprint', sqlType: 'text', from: (g) => g.meta.fingerprint },
      // The batch's time, as in the documents: a compensation removes only the copies its own write made.
      {
        name: 'ingested_at',
        sqlType: 'timestamptz',
        notNull: true,
        default: 'now()',
        // A record written outside a batch (a repair) is ingested now.
        from: (g) => (g.ingestedAt ? batchTime(g.ingestedAt) : new Date().toISOString()),
      },
    ],
    primaryKey: IDENTITY,
    indexes: [
      ...(type.indexes ?? []).filter((i) => i.columns.length > 0),
      { name: 'ingested_at', columns: ['ingested_at'] },
    ],
    differs: RECORD_DIFFERS,
  };
}

/**
 * Tombstones applied with TOMBSTONES=delete: the highest offset per cluster, partition and key, and
 * its timestamp, so a record re-sent later (a redrive of an older failure) is known to be superseded.
 */
export const appliedTombstonesTable: TableSpec<never> = {
  columns: [
    { name: 'cluster', sqlType: 'text', notNull: true },
    { name: 'topic', sqlType: 'text', notNull: true },
    { name: 'partition', sqlType: 'integer', notNull: true },
    { name: 'key_base64', sqlType: 'text', notNull: true },
    { name: 'offset', sqlType: 'bigint', notNull: true },
    { name: 'applied_at', sqlType: 'timestamptz', notNull: true, default: 'now()' },
    // That tombstone's original timestamp: a re-sent record newer than it (a re-created topic's,
    // at an offset the old topic's tombstone had passed) is not superseded. Null before it existed.
    { name: 'timestamp_ms', sqlType: 'bigint' },
  ],
  primaryKey: ['cluster', 'topic', 'partition', 'key_base64'],
};

/** The cluster keys each topic's records came from, to warn when a topic's cluster key changes. */
export const clustersTable: TableSpec<never> = {
  columns: [
    { name: 'topic', sqlType: 'text', notNull: true },
    { name: 'cluster', sqlType: 'text', notNull: true },
    { name: 'first_seen', sqlType: 'timestamptz', notNull: true, default: 'now()' },
  ],
  primaryKey: ['topic', 'cluster'],
};
