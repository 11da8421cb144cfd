/** The sink's two Postgres tables, as descriptors: records of a type, and dead letters. */
import { isStorableTimestamp, type RecordMeta } from '../event/decode';
import type { RecordType } from '../records/record-type';
import type { DeadLetter, GoodRecord } from './model';
import type { SqlColumn, TableSpec } from './table-spec';

const isoTime = (ms: number) => new Date(ms).toISOString();

/** Columns every table keyed by a record's identity starts with: its cluster and coordinates. */
function coordinateColumns<S>(meta: (s: S) => RecordMeta): SqlColumn<S>[] {
  return [
    // '' for rows stored before identities had a cluster.
    { name: 'cluster', sqlType: 'text', notNull: true, default: "''", from: (s) => meta(s).cluster },
    { name: 'topic', sqlType: 'text', notNull: true, from: (s) => meta(s).coordinates.topic },
    { name: 'partition', sqlType: 'integer', notNull: true, from: (s) => meta(s).coordinates.partition },
    { name: 'offset', sqlType: 'bigint', notNull: true, from: (s) => meta(s).coordinates.offset },
  ];
}

const IDENTITY = ['cluster', 'topic', 'partition', 'offset'] as const;

/**
 * A stored row and an incoming record at the same coordinates are different records (a re-created
 * topic, another cluster) when their timestamp, key or value differ. Rows from before `raw_value`
 * existed are compared by payload.
 */
const RECORD_DIFFERS = [
  't."kafka_timestamp" is distinct from x."kafka_timestamp"',
  't."kafka_key_base64" is distinct from x."kafka_key_base64"',
  '(case when t."raw_value" is null then t."payload" <> x."raw_value"::jsonb else t."raw_value" <> x."raw_value" end)',
].join(' or ');

/** A row stored before identities had a cluster holds this very record: it is present, not new. */
const SAME_AS_LEGACY = (table: string) =>
  [
    `x."cluster" <> '' and exists (select 1 from ${table} t where t."cluster" = ''`,
    'and t."topic" = x."topic" and t."partition" = x."partition" and t."offset" = x."offset"',
    `and not (${RECORD_DIFFERS}))`,
  ].join(' ');

/** The records table of `type`: coordinates, key, the type's columns, payload, headers, times. */
export function recordsTable<T>(type: RecordType<T>): TableSpec<GoodRecord<T>> {
  const meta = (g: GoodRecord<T>) => g.meta;
  return {
    columns: [
      ...coordinateColumns(meta),
      { name: 'kafka_key', sqlType: 'text', from: (g) => g.meta.keyText ?? null },
      { name: 'kafka_key_base64', sqlType: 'text', from: (g) => g.meta.keyBase64 ?? null },
      ...type.columns.map((c): SqlColumn<GoodRecord<T>> => ({ ...c, from: (g) => c.from(g.value) })),
      // jsonb parsed by Postgres from the raw text: numbers keep every digit (JSON.parse would not).
      { name: 'payload', sqlType: 'jsonb', notNull: true, fromSql: 'x."raw_value"::jsonb' },
      { name: 'raw_value', sqlType: 'text', from: (g) => g.valueText },
      { name: 'headers', sqlType: 'jsonb', notNull: true, default: "'[]'", from: (g) => g.meta.headers },
      { name: 'kafka_timestamp', sqlType: 'timestamptz', notNull: true, from: (g) => isoTime(g.meta.timestamp) },
      { name: 'timestamp_type', sqlType: 'text', notNull: true, from: (g) => g.meta.timestampType },
      { name: 'ingested_at', sqlType: 'timestamptz', notNull: true, default: 'now()' },
    ],
    primaryKey: IDENTITY,
    indexes: [...(type.indexes ?? []), { name: 'ingested_at', columns: ['ingested_at'] }],
    differs: RECORD_DIFFERS,
    skipIf: SAME_AS_LEGACY,
  };
}

/** The dead-letter table: coordinates, the raw key, value and headers, and why. */
export const deadLettersTable: TableSpec<DeadLetter> = {
  columns: [
    ...coordinateColumns((d: DeadLetter) => d.meta),
    { name: 'kafka_key_base64', sqlType: 'text', from: (d) => d.meta.keyBase64 ?? null },
    { name: 'value_base64', sqlType: 'text', from: (d) => d.valueBase64 ?? null },
    { name: 'headers', sqlType: 'jsonb', notNull: true, default: "'[]'", from: (d) => d.meta.headers },
    // Nullable: a record can be dead-lettered for a timestamp no store can hold.
    {
      name: 'kafka_timestamp',
      sqlType: 'timestamptz',
      from: (d) => (isStorableTimestamp(d.meta.timestamp) ? isoTime(d.meta.timestamp) : null),
    },
    { name: 'error_kind', sqlType: 'text', notNull: true, from: (d) => d.error.kind },
    { name: 'error', sqlType: 'text', notNull: true, from: (d) => d.error.detail },
    { name: 'failed_at', sqlType: 'timestamptz', notNull: true, default: 'now()' },
    { name: 'replayed_at', sqlType: 'timestamptz' },
  ],
  primaryKey: IDENTITY,
  // A replayed record that fails again is a dead letter again, not "already there".
  onConflict: (table) =>
    `do update set "error_kind" = excluded."error_kind", "error" = excluded."error", "failed_at" = now(), "replayed_at" = null where ${table}."replayed_at" is not null`,
};
