/** PostgreSQL adapter: schema, and one round trip per write chunk for records and dead letters. */
import { readFileSync } from 'node:fs';
import pg from 'pg';
import type { Config } from '../config';
import type { Column, RecordType } from '../records/record-type';

/** Quotes an identifier that config validation already restricted to [a-z_][a-z0-9_]*. */
export const ident = (name: string) => {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`refusing unsafe SQL identifier ${JSON.stringify(name)}`);
  return `"${name}"`;
};

interface Field {
  name: string;
  sqlType: Column<unknown>['sqlType'];
}

/** Columns every records table has, around the record type's own. */
const META_FIELDS: Field[] = [
  { name: 'topic', sqlType: 'text' },
  { name: 'partition', sqlType: 'integer' },
  { name: 'offset', sqlType: 'bigint' },
  { name: 'kafka_key', sqlType: 'text' },
  { name: 'kafka_key_base64', sqlType: 'text' },
];
const TAIL_FIELDS: Field[] = [
  { name: 'payload', sqlType: 'jsonb' },
  { name: 'headers', sqlType: 'jsonb' },
  { name: 'kafka_timestamp', sqlType: 'timestamptz' },
  { name: 'timestamp_type', sqlType: 'text' },
];
const DEAD_LETTER_FIELDS: Field[] = [
  { name: 'topic', sqlType: 'text' },
  { name: 'partition', sqlType: 'integer' },
  { name: 'offset', sqlType: 'bigint' },
  { name: 'kafka_key_base64', sqlType: 'text' },
  { name: 'value_base64', sqlType: 'text' },
  { name: 'headers', sqlType: 'jsonb' },
  { name: 'kafka_timestamp', sqlType: 'timestamptz' },
  { name: 'error_kind', sqlType: 'text' },
  { name: 'error', sqlType: 'text' },
];

export interface Tables {
  schema: string;
  records: string;
  deadLetters: string;
}

export const tablesFrom = (c: Config): Tables => ({ schema: c.POSTGRES_SCHEMA, records: c.POSTGRES_QUOTES_TABLE, deadLetters: c.POSTGRES_DEAD_LETTER_TABLE });

/** DDL for the records and dead-letter tables (idempotent: IF NOT EXISTS everywhere). */
export function schemaSql(type: RecordType<unknown>, t: Tables): string {
  const rec = `${ident(t.schema)}.${ident(t.records)}`;
  const dl = `${ident(t.schema)}.${ident(t.deadLetters)}`;
  const own = type.columns.map((c) => `  ${ident(c.name)} ${c.sqlType}${c.notNull ? ' not null' : ''},`);
  const indexes = (type.indexes ?? []).map(
    ([suffix, cols]) => `create index if not exists ${ident(`${t.records}_${suffix}_idx`)} on ${rec} (${cols});`,
  );
  return [
    `create schema if not exists ${ident(t.schema)};`,
    `create table if not exists ${rec} (`,
    '  "topic" text not null,',
    '  "partition" integer not null,',
    '  "offset" bigint not null,',
    '  "kafka_key" text,',
    '  "kafka_key_base64" text,',
    ...own,
    '  "payload" jsonb not null,',
    `  "headers" jsonb not null default '[]',`,
    '  "kafka_timestamp" timestamptz not null,',
    '  "timestamp_type" text not null,',
    '  "ingested_at" timestamptz not null default now(),',
    '  primary key ("topic", "partition", "offset")',
    ');',
    ...indexes,
    `create index if not exists ${ident(`${t.records}_ingested_at_idx`)} on ${rec} ("ingested_at");`,
    `create table if not exists ${dl} (`,
    '  "topic" text not null,',
    '  "partition" integer not null,',
    '  "offset" bigint not null,',
    '  "kafka_key_base64" text,',
    '  "value_base64" text,',
    `  "headers" jsonb not null default '[]',`,
    '  "kafka_timestamp" timestamptz,',
    '  "error_kind" text not null,',
    '  "error" text not null,',
    '  "failed_at" timestamptz not null default now(),',
    '  "replayed_at" timestamptz,',
    '  primary key ("topic", "partition", "offset")',
    ');',
  ].join('\n');
}

const recordset = (fields: Field[]) => fields.map((f) => `${ident(f.name)} ${f.sqlType}`).join(', ');
const names = (fields: Field[]) => fields.map((f) => ident(f.name)).join(', ');

/**
 * The batch statement: records and dead letters, each from one JSON parameter via
 * json_to_recordset, `on conflict do nothing` on the coordinates. One round trip, two bind
 * parameters whatever the batch size, atomic for both tables.
 */
export function batchInsertSql(type: RecordType<unknown>, t: Tables): string {
  const recFields = [...META_FIELDS, ...type.columns.map((c) => ({ name: c.name, sqlType: c.sqlType })), ...TAIL_FIELDS];
  return [
    'with r as (',
    `  insert into ${ident(t.schema)}.${ident(t.records)} (${names(recFields)})`,
    `  select ${names(recFields)} from json_to_recordset($1::json) as x(${recordset(recFields)})`,
    '  on conflict ("topic", "partition", "offset") do nothing returning 1',
    '), d as (',
    `  insert into ${ident(t.schema)}.${ident(t.deadLetters)} (${names(DEAD_LETTER_FIELDS)})`,
    `  select ${names(DEAD_LETTER_FIELDS)} from json_to_recordset($2::json) as x(${recordset(DEAD_LETTER_FIELDS)})`,
    '  on conflict ("topic", "partition", "offset") do nothing returning 1',
    ')',
    'select (select count(*) from r)::int as written, (select count(*) from d)::int as dead_lettered',
  ].join('\n');
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

export interface PostgresWriteResult {
  written: number;
  deadLettered: number;
}

/** The sink's Postgres side: a lazily created pool, the schema made sure of once. */
export class PostgresStore {
  private pool?: pg.Pool;
  private schemaReady?: Promise<void>;
  private readonly insertSql: string;
  private readonly tables: Tables;

  constructor(
    private readonly config: Config,
    private readonly type: RecordType<unknown>,
  ) {
    this.tables = tablesFrom(config);
    this.insertSql = batchInsertSql(type, this.tables);
  }

  private getPool(): pg.Pool {
    if (!this.pool) {
      this.pool = new pg.Pool(poolConfig(this.config));
      // An idle client that dies (server restart) is dropped by the pool; don't crash the process.
      this.pool.on('error', () => undefined);
    }
    return this.pool;
  }

  /** Creates tables and indexes if missing; serialised across containers by an advisory lock. */
  ensureSchema(): Promise<void> {
    this.schemaReady ??= (async () => {
      const client = await this.getPool().connect();
      try {
        await client.query('begin');
        await client.query("select pg_advisory_xact_lock(hashtext('quotes-sink:migrate'))");
        await client.query(schemaSql(this.type, this.tables));
        await client.query('commit');
      } catch (e) {
        await client.query('rollback').catch(() => undefined);
        throw e;
      } finally {
        client.release();
      }
    })().catch((e) => {
      this.schemaReady = undefined; // try again on the next batch
      throw e;
    });
    return this.schemaReady;
  }

  /** Writes rows and dead letters in one statement; counts only what was new. */
  async write(rows: Record<string, unknown>[], deadLetters: Record<string, unknown>[]): Promise<PostgresWriteResult> {
    if (rows.length === 0 && deadLetters.length === 0) return { written: 0, deadLettered: 0 };
    await this.ensureSchema();
    const r = await this.getPool().query<{ written: number; dead_lettered: number }>(this.insertSql, [JSON.stringify(rows), JSON.stringify(deadLetters)]);
    return { written: r.rows[0].written, deadLettered: r.rows[0].dead_lettered };
  }

  /** Deletes the stored records of `topic` with this key below `offset` (tombstones in delete mode). */
  async deleteByKey(topic: string, keyBase64: string, belowOffset: number): Promise<number> {
    await this.ensureSchema();
    const r = await this.getPool().query(
      `delete from ${ident(this.tables.schema)}.${ident(this.tables.records)} where "topic" = $1 and "kafka_key_base64" = $2 and "offset" < $3`,
      [topic, keyBase64, belowOffset],
    );
    return r.rowCount ?? 0;
  }

  async close(): Promise<void> {
    const p = this.pool;
    this.pool = undefined;
    this.schemaReady = undefined;
    await p?.end();
  }
}
