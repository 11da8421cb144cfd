/**
 * The Postgres dead-letter table in one place: its descriptor (DDL and insert), every statement on
 * it, and its one row shape with the mapping to what the read side shows. The store
 * (PostgresDeadLetterStore), the inspector (PostgresDeadLetterInspector) and the replay tool
 * (tools/replay/dead-letters.ts) take their SQL from here.
 */
import { isStorableTimestamp, type StoredHeader } from '../event/decode';
import { recordId, type Coordinates } from '../event/coordinates';
import type { DeadLetterFilter, DeadLetterRecord, OffsetRange } from '../sink/inspect';
import type { DeadLetter } from '../sink/model';
import { insertSql, type TableSpec } from './table-spec';
import { coordinateColumns, IDENTITY, isoTime } from './tables';
import { COORDINATES_RECORDSET, IN_COORDINATES, RANGE } from './where';

/**
 * The dead-letter table: identity and fingerprint (two different records at one identity are two
 * dead letters; the same record twice is one), the raw key, value, headers and timestamp, and why.
 */
export const deadLettersTable: TableSpec<DeadLetter> = {
  columns: [
    ...coordinateColumns((d: DeadLetter) => d.meta),
    // '' for a dead letter written by hand without one (test/integration/dead-letters.test.ts does).
    { name: 'fingerprint', sqlType: 'text', notNull: true, default: "''", from: (d) => d.meta.fingerprint },
    { name: 'kafka_key_base64', sqlType: 'text', from: (d) => d.meta.keyBase64 ?? null },
    { name: 'value_base64', sqlType: 'text', from: (d) => d.valueBase64 ?? null },
    { name: 'headers', sqlType: 'jsonb', notNull: true, default: "'[]'", from: (d) => d.meta.headers },
    // Nullable: a record can be dead-lettered for a timestamp no store can hold.
    {
      name: 'kafka_timestamp',
      sqlType: 'timestamptz',
      from: (d) => (isStorableTimestamp(d.meta.timestamp) ? isoTime(d.meta.timestamp) : null),
    },
    // The original timestamp whatever it is: a dead letter never depends on a value being storable.
    { name: 'timestamp_ms', sqlType: 'bigint', from: (d) => d.meta.timestamp },
    { name: 'timestamp_type', sqlType: 'text', from: (d) => d.meta.timestampType },
    { name: 'error_kind', sqlType: 'text', notNull: true, from: (d) => d.error.kind },
    { name: 'error', sqlType: 'text', notNull: true, from: (d) => d.error.detail },
    { name: 'failed_at', sqlType: 'timestamptz', notNull: true, default: 'now()' },
    { name: 'replayed_at', sqlType: 'timestamptz' },
    // The offset of the tombstone of this record's key that made it moot: a replay leaves it.
    { name: 'superseded_by', sqlType: 'bigint' },
    // When a later write stored the very record a store had refused: a replay leaves it.
    { name: 'stored_at', sqlType: 'timestamptz' },
  ],
  primaryKey: [...IDENTITY, 'fingerprint'],
  // A replayed record that fails again is a dead letter again, not "already there": unless a
  // tombstone of its key superseded it meanwhile, or its row was fixed (its value is no longer the
  // failing copy's: the fixed replay is what was sent). Only re-sent copies are written with this;
  // the original read again (a backfill) leaves a replayed dead letter as it is.
  onConflict: (table) =>
    [
      'do update set "error_kind" = excluded."error_kind", "error" = excluded."error", "failed_at" = now(), "replayed_at" = null',
      `where ${table}."replayed_at" is not null and ${table}."superseded_by" is null`,
      `and ${table}."value_base64" is not distinct from excluded."value_base64"`,
    ].join(' '),
};

/**
 * A dead letter still to act on: not replayed, not superseded by a tombstone of its key, its
 * record not stored since (the columns a dead letter leaves the pending state by).
 */
export const PENDING_DEAD_LETTER = 'replayed_at is null and superseded_by is null and stored_at is null';

/**
 * A row of the dead-letter table as pg returns it (bigints as strings). Each statement reads the
 * columns it needs: a `Pick` of this.
 */
export interface DeadLetterTableRow {
  cluster: string;
  topic: string;
  partition: number;
  offset: string;
  fingerprint: string;
  kafka_key_base64: string | null;
  value_base64: string | null;
  headers: StoredHeader[];
  /** As stored: null when no store could hold it. */
  kafka_timestamp: Date | null;
  /** The original timestamp in ms: null only in a row written without it (by hand). */
  timestamp_ms: string | null;
  timestamp_type: string | null;
  error_kind: string;
  error: string;
  failed_at: Date;
  replayed_at: Date | null;
  superseded_by: string | null;
  stored_at: Date | null;
}

/** The coordinates of a row. */
export const coordinatesOfRow = (r: Pick<DeadLetterTableRow, 'topic' | 'partition' | 'offset'>): Coordinates => ({
  topic: r.topic,
  partition: r.partition,
  offset: Number(r.offset),
});

/** A row as the read side shows a dead letter. */
export function toDeadLetterRecord(r: DeadLetterTableRow): DeadLetterRecord {
  return {
    coordinates: coordinatesOfRow(r),
    keyBase64: r.kafka_key_base64 ?? null,
    valueBase64: r.value_base64 ?? null,
    headers: r.headers ?? [],
    errorKind: r.error_kind,
    error: r.error,
    failedAt: r.failed_at,
    replayedAt: r.replayed_at ?? null,
    storedAt: r.stored_at ?? null,
  };
}

/** Rows by record id (`topic/partition/offset`), as {@link DeadLetterRecord}s. */
export const deadLettersById = (rows: readonly DeadLetterTableRow[]): Map<string, DeadLetterRecord> =>
  new Map(rows.map((r) => [recordId(coordinatesOfRow(r)), toDeadLetterRecord(r)]));

/** Builds the where clause and parameters of a dead-letter filter. */
function filterWhere(f: DeadLetterFilter): { where: string; params: unknown[] } {
  const params: unknown[] = [];
  const terms: string[] = [];
  const add = (sql: (n: number) => string, value: unknown) => {
    params.push(value);
    terms.push(sql(params.length));
  };
  if (f.topic) add((n) => `topic = $${n}`, f.topic);
  if (f.kind) add((n) => `error_kind = $${n}`, f.kind);
  if (f.since) add((n) => `failed_at >= $${n}`, f.since);
  if (f.until) add((n) => `failed_at < $${n}`, f.until);
  if (!f.includeReplayed) terms.push(PENDING_DEAD_LETTER);
  return { where: terms.length ? `where ${terms.join(' and ')}` : '', params };
}

/** A statement and its parameters. */
export interface Query {
  sql: string;
  params: unknown[];
}

/**
 * The dead letters a replay sends: pending (not yet replayed, not superseded by a tombstone of
 * their key, their record not stored since), and collisions only when sent as new records (their
 * identity is another record's).
 */
const replayable = (asNew: boolean): string =>
  `${PENDING_DEAD_LETTER} and error_kind ${asNew ? "= 'collision'" : "<> 'collision'"}`;

/** Dead letters sent and marked per transaction by a replay. */
export const REPLAY_SLICE = 500;

/** The statements the sink writes dead letters with. */
const writeSql = (table: string) => ({
  /** The insert that re-arms a replayed dead letter (for re-sent copies). */
  insert: insertSql(table, deadLettersTable),
  /** The insert that leaves a dead letter as it is (for originals). */
  insertKeeping: insertSql(table, { ...deadLettersTable, onConflict: undefined }),

  /** Marks the pending dead letters keyed tombstones supersede, with the tombstone's offset. */
  supersede: [
    `update ${table} d set "superseded_by" = t."offset" from ${COORDINATES_RECORDSET}, "key" text, "until_ms" bigint)`,
    'where d."cluster" = t."cluster" and d."topic" = t."topic" and d."partition" = t."partition"',
    'and d."offset" < t."offset" and d."kafka_key_base64" = t."key" and d."superseded_by" is null',
    'and (t."until_ms" is null or d."timestamp_ms" is null or d."timestamp_ms" <= t."until_ms")',
  ].join(' '),

  /** Pending dead letters of the kinds `$2` in the identity ranges `$1` (lib/sink/settled.ts, storedRanges). */
  inRanges: [
    'select d."cluster", d."topic", d."partition", d."offset", d."fingerprint"',
    `from ${table} d join json_to_recordset($1::json) as t("cluster" text, "topic" text, "partition" integer, "from" bigint, "to" bigint)`,
    'on d."cluster" = t."cluster" and d."topic" = t."topic" and d."partition" = t."partition"',
    `and d."offset" between t."from" and t."to" where d."error_kind" = any($2) and ${PENDING_DEAD_LETTER}`,
  ].join(' '),

  /** Marks the dead letters `$1` (identity and fingerprint) stored, if still pending. */
  markStored: [
    `update ${table} d set "stored_at" = now() from ${COORDINATES_RECORDSET}, "fingerprint" text)`,
    'where d."cluster" = t."cluster" and d."topic" = t."topic" and d."partition" = t."partition"',
    `and d."offset" = t."offset" and d."fingerprint" = t."fingerprint" and ${PENDING_DEAD_LETTER}`,
  ].join(' '),
});

/** The statements of the read side (PostgresDeadLetterInspector). */
const readSql = (table: string) => ({
  /** Every cluster's dead letters at `coordinates`. */
  find: (coordinates: readonly Coordinates[]): Query => ({
    sql: `select * from ${table} where ${IN_COORDINATES(1)}`,
    params: [coordinates.map((c) => c.topic), coordinates.map((c) => c.partition), coordinates.map((c) => c.offset)],
  }),

  /** Those of a filter, newest first, at most `filter.limit` (100 by default, 1 to 1,000). */
  list: (filter: DeadLetterFilter): Query => {
    const { where, params } = filterWhere(filter);
    const limit = Math.min(Math.max(filter.limit ?? 100, 1), 1_000);
    return {
      sql: `select * from ${table} ${where} order by failed_at desc, topic, partition, "offset" limit ${limit}`,
      params,
    };
  },

  /** How many per error kind (of one topic). */
  countByKind: (topic?: string): Query => ({
    sql: `select error_kind, count(*)::int as n from ${table} ${topic === undefined ? '' : 'where topic = $1'} group by error_kind order by error_kind`,
    params: topic === undefined ? [] : [topic],
  }),

  /** The offsets in `range` that hold one. */
  offsetsIn: (range: OffsetRange): Query => ({
    sql: `select distinct "offset" from ${table} where ${RANGE}`,
    params: [range.topic, range.partition, range.from, range.to],
  }),
});

/** The statements of the replay tool (tools/replay/dead-letters.ts). */
const replaySql = (table: string) => ({
  /** How many there are: all with `$1` true, else the pending ones. */
  count: `select count(*)::int as n from ${table} where ($1 or (${PENDING_DEAD_LETTER}))
          and ($2::text[] is null or topic = any($2::text[]))`,
  /** A page of them, newest first: `$1` as in {@link count}, `$2` the limit, `$3` the offset. */
  page: `select topic, partition, "offset", error_kind, error, value_base64, failed_at, replayed_at, stored_at from ${table}
         where ($1 or (${PENDING_DEAD_LETTER})) and ($4::text[] is null or topic = any($4::text[]))
         order by failed_at desc, topic, partition, "offset" limit $2 offset $3`,

  /** Topics with dead letters to replay (only `topic`'s when given). */
  replayTopics: (asNew: boolean, topic?: string): Query => ({
    sql: `select distinct topic from ${table} where ${replayable(asNew)} ${topic !== undefined ? 'and topic = $1' : ''} order by topic`,
    params: topic !== undefined ? [topic] : [],
  }),

  /** Pending collision dead letters (at `at`, when given): a plain replay leaves them. */
  pendingCollisions: (at?: Coordinates): Query => ({
    sql: `select count(*)::int as n from ${table} where ${PENDING_DEAD_LETTER} and error_kind = 'collision' ${at ? 'and topic = $1 and partition = $2 and "offset" = $3' : ''}`,
    params: at ? [at.topic, at.partition, at.offset] : [],
  }),

  /**
   * Up to {@link REPLAY_SLICE} dead letters of `topic` to replay (at `at`, when given), locked
   * for the transaction; those another replay holds are skipped.
   */
  replaySlice: (topic: string, asNew: boolean, at?: Coordinates): Query => ({
    sql: `select cluster, topic, partition, "offset", fingerprint, kafka_key_base64, value_base64, headers,
               timestamp_ms, kafka_timestamp, error_kind from ${table}
             where topic = $1 and ${replayable(asNew)} ${at ? 'and partition = $3 and "offset" = $4' : ''}
             order by partition, "offset", cluster, fingerprint limit $2 for update skip locked`,
    params: at ? [topic, REPLAY_SLICE, at.partition, at.offset] : [topic, REPLAY_SLICE],
  }),

  /** Marks `rows` of `topic` replayed, each by its whole key (a slice may hold several clusters'). */
  markReplayed: (
    topic: string,
    rows: readonly Pick<DeadLetterTableRow, 'cluster' | 'partition' | 'offset' | 'fingerprint'>[],
  ): Query => ({
    sql: `update ${table} set replayed_at = now() where topic = $1
             and (cluster, partition, "offset", fingerprint) in (select * from unnest($2::text[], $3::int[], $4::bigint[], $5::text[]))`,
    params: [
      topic,
      rows.map((r) => r.cluster),
      rows.map((r) => r.partition),
      rows.map((r) => r.offset),
      rows.map((r) => r.fingerprint),
    ],
  }),
});

/** Every statement on the dead-letter table `table` (`"schema"."table"`). */
export const deadLetterSql = (table: string) => ({ ...writeSql(table), ...readSql(table), ...replaySql(table) });
