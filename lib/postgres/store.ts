/** PostgreSQL adapters: records and dead letters, one round trip per write chunk each. */
import { readFileSync } from 'node:fs';
import pg from 'pg';
import type { Config } from '../config';
import type { RecordMeta } from '../event/decode';
import type { RecordType } from '../records/record-type';
import { supersedesUntil, type DeadLetter, type GoodRecord, type Tombstone } from '../sink/model';
import type { DeadLetterStore, RecordStore, RecordWriteCount, WriteCount } from '../sink/port';
import { appliedTombstonesTable, clustersTable, recordsTable } from './tables';
import { deadLetterSql, deadLettersTable } from './dead-letters';
import { COORDINATES_RECORDSET } from './where';
import { SETTLED_BY_STORING, storedAfterAll, storedRanges, type DeadLetterIdentity } from '../sink/settled';
import {
  copyLineMaker,
  copySql,
  createTableSql,
  fastInsertSql,
  insertSql,
  rowMaker,
  toRow,
  type SqlRow,
  type TableSpec,
} from './table-spec';
import { copyIn } from './copy';
import { sliceBounds } from '../sink/slices';
import { storedKey } from '../sink/value-parts';
import { ident, qualified, tableName, type Tables } from './names';
import { PostgresEvolution } from './evolve';
import type { EvolutionOptions } from '../sink/evolve';

/** One route's records on Postgres: its record type and the bare name of its table. */
export interface PostgresRoute<T> {
  type: RecordType<T>;
  table: string;
}

/** `tables` with the records table of `route`: the dead-letter tables are every route's. */
const routeTables = (t: Tables, route: { table: string }): Tables => ({ ...t, records: route.table });

/** DDL for every route's records table and the dead-letter tables (idempotent: IF NOT EXISTS everywhere). */
export function routesSchemaSql<T>(routes: readonly PostgresRoute<T>[], t: Tables): string {
  return [
    `create schema if not exists ${ident(t.schema)};`,
    ...routes.map((r) => createTableSql(qualified(routeTables(t, r), 'records'), r.table, recordsTable(r.type))),
    createTableSql(qualified(t, 'deadLetters'), t.deadLetters, deadLettersTable),
    createTableSql(qualified(t, 'tombstones'), tableName(t, 'tombstones'), appliedTombstonesTable),
    createTableSql(qualified(t, 'clusters'), tableName(t, 'clusters'), clustersTable),
  ].join('\n');
}

/** DDL for the records and dead-letter tables (idempotent: IF NOT EXISTS everywhere). */
export function schemaSql<T>(type: RecordType<T>, t: Tables): string {
  return routesSchemaSql([{ type, table: t.records }], t);
}

/** pg's `ssl` option from POSTGRES_SSLMODE / POSTGRES_SSL_CA_FILE. */
export function postgresSsl(c: Pick<Config, 'POSTGRES_SSLMODE' | 'POSTGRES_SSL_CA_FILE'>): pg.ClientConfig['ssl'] {
  switch (c.POSTGRES_SSLMODE) {
    case 'disable':
      return false;
    case 'require':
      return { rejectUnauthorized: false };
    case 'verify-ca':
    case 'verify-full': {
      const ca = c.POSTGRES_SSL_CA_FILE ? readFileSync(c.POSTGRES_SSL_CA_FILE, 'utf8') : undefined;
      return c.POSTGRES_SSLMODE === 'verify-ca'
        ? { rejectUnauthorized: true, ca, checkServerIdentity: () => undefined }
        : { rejectUnauthorized: true, ca };
    }
  }
}

/** Pool options: small (Lambda containers multiply), with connect and query timeouts. */
export function poolConfig(c: Config): pg.PoolConfig {
  return {
    connectionString: c.POSTGRES_URL,
    max: c.POSTGRES_POOL_MAX,
    connectionTimeoutMillis: c.POSTGRES_CONNECT_TIMEOUT_MS,
    query_timeout: c.POSTGRES_QUERY_TIMEOUT_MS,
    statement_timeout: c.POSTGRES_QUERY_TIMEOUT_MS,
    idleTimeoutMillis: 60_000,
    ssl: postgresSsl(c),
    application_name: 'quotes-sink',
  };
}

/** A pool for the sink; connects lazily, so creating it does no I/O. */
export function createPostgresPool(c: Config): pg.Pool {
  const pool = new pg.Pool(poolConfig(c));
  // An idle client that dies (server restart) is dropped by the pool; don't crash the process.
  pool.on('error', () => undefined);
  return pool;
}

/** How many of the expected table columns the catalogue lacks (a missing table lacks all of its own). */
const MISSING_COLUMNS = [
  'select count(*)::int as missing from json_to_recordset($1::json) as c("tbl" text, "col" text)',
  'where not exists (select 1 from pg_attribute a where a.attrelid = to_regclass(c."tbl") and a.attname = c."col" and not a.attisdropped)',
].join(' ');

/**
 * The schema, made sure of once per pool and tables: both adapters share it, and a failure is
 * forgotten so the next batch tries again. Serialised across containers by an advisory lock. With
 * the evolutions (one per route's records table), a change of a route's schema is checked first
 * (refused: {@link SchemaEvolutionError}), and rows written before a new column get it filled.
 */
class SchemaGate {
  private ready?: Promise<void>;

  constructor(
    private readonly pool: pg.Pool,
    private readonly ddl: string,
    private readonly columns: readonly { tbl: string; col: string }[],
    private readonly evolutions: readonly PostgresEvolution<unknown>[] = [],
    private readonly options: EvolutionOptions = {},
  ) {}

  ensure(): Promise<void> {
    this.ready ??= this.migrateIfMissing().catch((e: unknown) => {
      this.ready = undefined;
      throw e;
    });
    return this.ready;
  }

  /**
   * DDL only when a table is missing: a least-privilege role (SELECT/INSERT/DELETE on existing
   * tables, no CREATE on the database) can then write. The catalogue lookups need no privilege.
   */
  private async migrateIfMissing(): Promise<void> {
    const [r, ...evolving] = await Promise.all([
      this.pool.query<{ missing: number }>(MISSING_COLUMNS, [JSON.stringify(this.columns)]),
      ...this.evolutions.map((e) => e.check(this.pool)),
    ]);
    if (r.rows[0].missing > 0) await this.migrate();
    // Added columns, or a backfill an earlier run left halfway (its columns are still marked).
    for (const [i, e] of this.evolutions.entries()) {
      if (evolving[i].added.length > 0 || evolving[i].pending.length > 0) await e.backfill(this.pool, this.options);
    }
  }

  private async migrate(): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query('begin');
      await client.query("select pg_advisory_xact_lock(hashtext('quotes-sink:migrate'))");
      // Under the lock: what another container added meanwhile is not added (nor marked) twice.
      const added: string[][] = [];
      for (const e of this.evolutions) added.push((await e.check(client)).added);
      await client.query(this.ddl);
      for (const [i, e] of this.evolutions.entries()) await e.markPending(client, added[i]);
      await client.query('commit');
    } catch (e) {
      await client.query('rollback').catch(() => undefined);
      throw e;
    } finally {
      client.release();
    }
  }
}

/**
 * Inserts `rows` with `sql` (from {@link insertSql}); counts what was new, and reports rows whose
 * coordinates hold a different record as collisions (positions from `base`).
 */
async function insertRows(pool: pg.Pool, sql: string, rows: readonly object[], base = 0): Promise<RecordWriteCount> {
  if (rows.length === 0) return { written: 0, alreadyPresent: 0, rejected: [] };
  const r = await pool.query<{ written: number; collisions: number[] | null }>(sql, [JSON.stringify(rows)]);
  const { written, collisions } = r.rows[0];
  const rejected = (collisions ?? []).map((i) => ({ index: base + i, kind: 'collision' as const, reason: COLLISION }));
  return { written, alreadyPresent: rows.length - written - rejected.length, rejected };
}

/** The server (or a proxy) refused COPY itself: feature not supported, or no privilege for it. */
const isCopyRefused = (e: unknown): boolean =>
  typeof (e as { code?: unknown })?.code === 'string' && /^(0A|42501)/.test((e as { code: string }).code);

const COLLISION = 'a different record (timestamp, key or value) is stored at these coordinates';

/**
 * Errors that come from a row's content rather than the server or the connection: data exceptions
 * (class 22), integrity violations (23, e.g. another unique index), program limits (54, e.g. an
 * index row too large). Only these are isolated to a record; anything else fails the batch.
 */
export const isContentError = (e: unknown): boolean =>
  typeof (e as { code?: unknown })?.code === 'string' && /^(22|23|54)/.test((e as { code: string }).code);

/**
 * Inserts rows [from, to); when the server refuses the statement for a row's content, splits it
 * in halves until the refused rows are found, and writes all the others.
 */
async function insertIsolating(
  pool: pg.Pool,
  sql: string,
  rows: readonly SqlRow[],
  from: number,
  to: number,
): Promise<RecordWriteCount> {
  try {
    return await insertRows(pool, sql, rows.slice(from, to), from);
  } catch (e) {
    if (!isContentError(e)) throw e;
    if (to - from === 1)
      return { written: 0, alreadyPresent: 0, rejected: [{ index: from, reason: (e as Error).message }] };
    const mid = from + Math.ceil((to - from) / 2);
    const a = await insertIsolating(pool, sql, rows, from, mid);
    const b = await insertIsolating(pool, sql, rows, mid, to);
    return {
      written: a.written + b.written,
      alreadyPresent: a.alreadyPresent + b.alreadyPresent,
      rejected: [...(a.rejected ?? []), ...(b.rejected ?? [])],
    };
  }
}

/**
 * A stored row `r` holds the key of `t`, in the form a row keeps it: `key_text` its text, or
 * `key_bin` its base64 for a key that is not text (the other null).
 */
const SAME_KEY =
  '(r."kafka_key" is not distinct from t."key_text" and r."kafka_key_base64" is not distinct from t."key_bin")';

const RECORDS_DELETE = (table: string) =>
  [
    `delete from ${table} r using ${COORDINATES_RECORDSET}, "fingerprint" text, "at" timestamptz)`,
    'where r."cluster" = t."cluster" and r."topic" = t."topic" and r."partition" = t."partition" and r."offset" = t."offset"',
    'and r."fingerprint" = t."fingerprint" and r."ingested_at" = t."at"',
  ].join(' ');

const TOMBSTONE_DELETE = (table: string) =>
  [
    `delete from ${table} r using ${COORDINATES_RECORDSET}, "key_text" text, "key_bin" text, "until_ms" bigint)`,
    'where r."cluster" = t."cluster" and r."topic" = t."topic" and r."partition" = t."partition"',
    `and ${SAME_KEY} and r."offset" < t."offset"`,
    'and (t."until_ms" is null or r."kafka_timestamp" <= to_timestamp(t."until_ms" / 1000.0))',
  ].join(' ');

/** A record's key in the form {@link SAME_KEY} compares. */
function keyParams(m: { keyText?: string; keyBase64?: string }) {
  const k = storedKey(m.keyText, m.keyBase64);
  return { key_text: k.text ?? null, key_bin: k.base64 ?? null };
}

/** The records table of one record type. */
export class PostgresStore<T> implements RecordStore<T> {
  readonly name = 'postgres' as const;
  private readonly spec: TableSpec<GoodRecord<T>>;
  private readonly row: (g: GoodRecord<T>) => SqlRow;
  private readonly table: string;
  private readonly insert: string;
  private readonly fastInsert: string;
  private copy?: string;
  private readonly copyLine: (g: GoodRecord<T>) => string;
  /**
   * Whether the next slice tries COPY first: not after a slice found rows there already (a replay
   * would fail each COPY), again once a plain insert wrote every row of its slice.
   */
  private copyFirst = true;
  private readonly deleteSql: string;
  private readonly deleteRecordsSql: string;

  /** `pool` is owned by the caller until {@link close}, which ends it. */
  constructor(
    private readonly pool: pg.Pool,
    private readonly schema: SchemaGate,
    type: RecordType<T>,
    tables: Tables,
    options: { copy?: boolean } = {},
  ) {
    this.spec = recordsTable(type);
    this.row = rowMaker(this.spec);
    this.table = qualified(tables, 'records');
    this.insert = insertSql(this.table, this.spec);
    this.fastInsert = fastInsertSql(this.table, this.spec);
    this.copy = options.copy === false ? undefined : copySql(this.table, this.spec);
    this.copyLine = copyLineMaker(this.spec);
    this.deleteSql = TOMBSTONE_DELETE(this.table);
    this.deleteRecordsSql = RECORDS_DELETE(this.table);
  }

  ready(): Promise<void> {
    return this.schema.ensure();
  }

  /**
   * Writes the chunk in slices, at once on the pool's connections (two Postgres backends keep up
   * with COPY where one does not). Each slice is one COPY, or one plain insert after rows were
   * found there already; only when some of its rows were there does the full statement settle
   * them (present, or a collision).
   */
  async write(records: readonly GoodRecord<T>[]): Promise<RecordWriteCount> {
    if (records.length === 0) return { written: 0, alreadyPresent: 0 };
    await this.ready();
    const counts = await Promise.all(
      sliceBounds(records.length, this.pool.options.max ?? 1).map(([from, to]) =>
        this.writeSlice(records.slice(from, to), from),
      ),
    );
    return counts.reduce((a, b) => ({
      written: a.written + b.written,
      alreadyPresent: a.alreadyPresent + b.alreadyPresent,
      rejected: [...(a.rejected ?? []), ...(b.rejected ?? [])],
    }));
  }

  /** One slice (`base`: its first record's position in the chunk). */
  private async writeSlice(records: readonly GoodRecord<T>[], base: number): Promise<RecordWriteCount> {
    if (await this.copied(records)) return { written: records.length, alreadyPresent: 0, rejected: [] };
    let fast = 0;
    const rows = records.map(this.row);
    try {
      fast = (await this.pool.query(this.fastInsert, [JSON.stringify(rows)])).rowCount ?? 0;
      if (fast === records.length) {
        this.copyFirst = true;
        return { written: fast, alreadyPresent: 0, rejected: [] };
      }
    } catch (e) {
      if (!isContentError(e)) throw e;
    }
    // Some rows were there, or one was refused for its content: the full statement settles the
    // slice (the rows the plain insert wrote are found present), split where refused.
    const settled = await insertIsolating(this.pool, this.insert, rows, 0, rows.length);
    const rejected = (settled.rejected ?? []).map((r) => ({ ...r, index: base + r.index }));
    return { written: fast + settled.written, alreadyPresent: settled.alreadyPresent - fast, rejected };
  }

  /**
   * COPY of the whole slice into the table, when it is worth trying: true when every row was
   * written. COPY is all or nothing, so when the server refuses it (a row there already, or one
   * it refuses for its content) nothing was written and the insert path takes the slice.
   */
  private async copied(records: readonly GoodRecord<T>[]): Promise<boolean> {
    if (this.copy === undefined || !this.copyFirst) return false;
    let data = '';
    for (const g of records) data += this.copyLine(g);
    // UTF-8 would turn a lone surrogate (a "\ud800" escape in the value) into U+FFFD silently;
    // the insert path sends it escaped, and the server refuses it.
    if (!data.isWellFormed()) return false;
    try {
      return (await copyIn(this.pool, this.copy, data)) === records.length;
    } catch (e) {
      if (isContentError(e)) {
        this.copyFirst = false;
        return false;
      }
      // COPY refused as such (a proxy or role without it): the insert path from now on.
      if (isCopyRefused(e)) {
        this.copy = undefined;
        return false;
      }
      throw e;
    }
  }

  async deleteRecords(records: readonly GoodRecord<T>[]): Promise<number> {
    const own = records.filter((g) => g.ingestedAt !== undefined);
    if (own.length === 0) return 0;
    const which = own.map(({ meta: m, ingestedAt }) => ({
      cluster: m.cluster,
      ...m.coordinates,
      fingerprint: m.fingerprint,
      at: (ingestedAt as Date).toISOString(),
    }));
    const r = await this.pool.query(this.deleteRecordsSql, [JSON.stringify(which)]);
    return r.rowCount ?? 0;
  }

  async deleteByKey(tombstones: readonly Tombstone[]): Promise<number> {
    const keyed = tombstones.filter((t) => t.meta.keyBase64 !== undefined);
    if (keyed.length === 0) return 0;
    await this.ready();
    const params = keyed.map((t) => ({
      cluster: t.meta.cluster,
      ...t.meta.coordinates,
      ...keyParams(t.meta),
      until_ms: supersedesUntil(t),
    }));
    const r = await this.pool.query(this.deleteSql, [JSON.stringify(params)]);
    return r.rowCount ?? 0;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** Remembers each keyed tombstone's offset (the highest) and its timestamp per cluster, partition and key. */
const TOMBSTONES_REMEMBER = (table: string) =>
  [
    `insert into ${table} ("cluster", "topic", "partition", "key_base64", "offset", "timestamp_ms")`,
    'select distinct on (1, 2, 3, 4) "cluster", "topic", "partition", "key", "offset", "timestamp_ms"',
    `from ${COORDINATES_RECORDSET}, "key" text, "timestamp_ms" bigint) order by 1, 2, 3, 4, "offset" desc`,
    `on conflict ("cluster", "topic", "partition", "key_base64") do update set "offset" = excluded."offset",`,
    `"timestamp_ms" = excluded."timestamp_ms" where ${table}."offset" < excluded."offset"`,
  ].join(' ');

/** Positions (0-based) of the records a remembered tombstone supersedes. */
const TOMBSTONES_SUPERSEDING = (table: string) =>
  [
    'select x."n" - 1 as "i" from rows from (json_to_recordset($1::json) as',
    '("cluster" text, "topic" text, "partition" integer, "offset" bigint, "key" text, "timestamp_ms" bigint))',
    'with ordinality as x("cluster", "topic", "partition", "offset", "key", "timestamp_ms", "n")',
    `join ${table} t on t."cluster" = x."cluster" and t."topic" = x."topic" and t."partition" = x."partition"`,
    'and t."key_base64" = x."key" and t."offset" > x."offset"',
    'and (t."timestamp_ms" is null or x."timestamp_ms" <= t."timestamp_ms")',
  ].join(' ');

/** The dead-letter table. Written only when a chunk has dead letters. */
export class PostgresDeadLetterStore implements DeadLetterStore {
  readonly name = 'postgres' as const;
  /** The dead-letter table's statements (dead-letters.ts). */
  private readonly sql: ReturnType<typeof deadLetterSql>;
  private readonly rememberSql: string;
  private readonly supersedingSql: string;
  private readonly clustersTable: string;
  /** `topic/cluster` pairs noted by this instance, and what the store answered. */
  private readonly noted = new Map<string, Promise<string[]>>();

  constructor(
    private readonly pool: pg.Pool,
    private readonly schema: SchemaGate,
    tables: Tables,
  ) {
    this.sql = deadLetterSql(qualified(tables, 'deadLetters'));
    this.rememberSql = TOMBSTONES_REMEMBER(qualified(tables, 'tombstones'));
    this.supersedingSql = TOMBSTONES_SUPERSEDING(qualified(tables, 'tombstones'));
    this.clustersTable = qualified(tables, 'clusters');
  }

  otherClusters(topic: string, cluster: string): Promise<string[]> {
    const key = `${topic}/${cluster}`;
    let answer = this.noted.get(key);
    if (!answer) {
      answer = this.noteCluster(topic, cluster).catch((e: unknown) => {
        this.noted.delete(key);
        throw e;
      });
      this.noted.set(key, answer);
    }
    return answer;
  }

  private async noteCluster(topic: string, cluster: string): Promise<string[]> {
    await this.ready();
    const r = await this.pool.query<{ cluster: string }>(
      `with n as (insert into ${this.clustersTable} ("topic", "cluster") values ($1, $2) on conflict do nothing)
       select "cluster" from ${this.clustersTable} where "topic" = $1 and "cluster" <> $2 order by "first_seen"`,
      [topic, cluster],
    );
    return r.rows.map((x) => x.cluster);
  }

  async supersede(tombstones: readonly Tombstone[]): Promise<number> {
    const keyed = tombstones.filter((t) => t.meta.keyBase64 !== undefined);
    if (keyed.length === 0) return 0;
    await this.ready();
    const params = JSON.stringify(
      keyed.map((t) => ({
        cluster: t.meta.cluster,
        ...t.meta.coordinates,
        key: t.meta.keyBase64,
        until_ms: supersedesUntil(t),
        timestamp_ms: t.meta.timestamp,
      })),
    );
    const [marked] = await Promise.all([
      this.pool.query(this.sql.supersede, [params]),
      this.pool.query(this.rememberSql, [params]),
    ]);
    return marked.rowCount ?? 0;
  }

  async superseded(records: readonly RecordMeta[]): Promise<Set<number>> {
    if (!records.some((m) => m.keyBase64 !== undefined)) return new Set();
    await this.ready();
    const params = records.map((m) => ({
      cluster: m.cluster,
      ...m.coordinates,
      key: m.keyBase64 ?? null,
      timestamp_ms: m.timestamp,
    }));
    const r = await this.pool.query<{ i: string }>(this.supersedingSql, [JSON.stringify(params)]);
    return new Set(r.rows.map((x) => Number(x.i)));
  }

  async markStored(stored: readonly RecordMeta[]): Promise<number> {
    if (stored.length === 0) return 0;
    await this.ready();
    const ranges = JSON.stringify(storedRanges(stored));
    const found = await this.pool.query<DeadLetterIdentity & { offset: string }>(this.sql.inRanges, [
      ranges,
      SETTLED_BY_STORING,
    ]);
    if (found.rows.length === 0) return 0;
    const candidates = found.rows.map((r) => ({ ...r, offset: Number(r.offset) }));
    const settled = storedAfterAll(candidates, stored);
    if (settled.length === 0) return 0;
    const r = await this.pool.query(this.sql.markStored, [JSON.stringify(settled)]);
    return r.rowCount ?? 0;
  }

  ready(): Promise<void> {
    return this.schema.ensure();
  }

  /**
   * Inserts the dead letters. A re-sent copy (a replay or redrive) of a replayed dead letter that
   * fails again re-arms it; the original read again (a backfill, another group) is already there.
   */
  async write(deadLetters: readonly DeadLetter[]): Promise<WriteCount> {
    if (deadLetters.length === 0) return { written: 0, alreadyPresent: 0 };
    await this.ready();
    const resent = deadLetters.filter((d) => d.meta.resent);
    const own = resent.length === 0 ? deadLetters : deadLetters.filter((d) => !d.meta.resent);
    const [a, b] = await Promise.all([
      insertRows(
        this.pool,
        this.sql.insertKeeping,
        own.map((d) => toRow(deadLettersTable, d)),
      ),
      insertRows(
        this.pool,
        this.sql.insert,
        resent.map((d) => toRow(deadLettersTable, d)),
      ),
    ]);
    return { written: a.written + b.written, alreadyPresent: a.alreadyPresent + b.alreadyPresent };
  }

  /** The pool belongs to the records store, which ends it. */
  async close(): Promise<void> {}
}

/** Both Postgres adapters on one pool and one schema gate; `options.copy: false` writes records without COPY. */
export function postgresStores<T>(
  pool: pg.Pool,
  type: RecordType<T>,
  tables: Tables,
  options: { copy?: boolean; evolution?: EvolutionOptions } = {},
): { records: PostgresStore<T>; deadLetters: PostgresDeadLetterStore } {
  const { records, deadLetters } = postgresRouteStores(pool, [{ type, table: tables.records }], tables, options);
  return { records: records[0], deadLetters };
}

/**
 * A records store for each route (its own table) and the one dead-letter store, all on one pool
 * and one schema gate: the first store made ready makes every table, once. Every records store's
 * close ends the shared pool, so the owner closes one of them or the pool (lib/stores.ts: the pool).
 */
export function postgresRouteStores<T>(
  pool: pg.Pool,
  routes: readonly PostgresRoute<T>[],
  tables: Tables,
  options: { copy?: boolean; evolution?: EvolutionOptions } = {},
): { records: PostgresStore<T>[]; deadLetters: PostgresDeadLetterStore } {
  const expected = [
    ...routes.flatMap((r) =>
      recordsTable(r.type).columns.map((c) => ({ tbl: qualified(routeTables(tables, r), 'records'), col: c.name })),
    ),
    ...deadLettersTable.columns.map((c) => ({ tbl: qualified(tables, 'deadLetters'), col: c.name })),
    ...appliedTombstonesTable.columns.map((c) => ({ tbl: qualified(tables, 'tombstones'), col: c.name })),
    ...clustersTable.columns.map((c) => ({ tbl: qualified(tables, 'clusters'), col: c.name })),
  ];
  const evolutions = routes.map(
    (r) => new PostgresEvolution(qualified(routeTables(tables, r), 'records'), r.type) as PostgresEvolution<unknown>,
  );
  const gate = new SchemaGate(pool, routesSchemaSql(routes, tables), expected, evolutions, options.evolution);
  return {
    records: routes.map((r) => new PostgresStore(pool, gate, r.type, routeTables(tables, r), options)),
    deadLetters: new PostgresDeadLetterStore(pool, gate, tables),
  };
}
