/**
 * The Postgres write paths tried for issue 14, side by side on the same rows (the sink's lean row):
 * each writes N records in chunks into a fresh table with the sink's primary key and indexes, and
 * reports records/s and this process's CPU per 1,000 records. BENCHMARKS.md records what each gave.
 *
 *   node --import tsx bench/pg-variants.ts [--records 100000] [--chunk 1000] [--only a,b] [--rounds 1]
 *
 * Every variant but `copy` (the limit) is idempotent on the identity (ON CONFLICT DO NOTHING).
 */
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { z } from 'zod';
import { defineCommand, intFlag, parseCommand } from '../tools/cli/args';
import { runMain } from '../tools/cli/main';
import { loadConfig, loadStackEnv } from '../lib/config';
import type { Quote } from '../lib/records/quote';
import { quotesRoute } from '../lib/routes/default';
import type { GoodRecord } from '../lib/sink/model';
import { sortRecord } from '../lib/sink/prepare';
import { syntheticRecords } from './common';

/** The sink file's quotes route, as the function sinks quotes. */
const quoteType = quotesRoute();

/** The lean row, column by column: name, SQL type, and its value for a record. */
interface Col {
  name: string;
  type: string;
  of: (g: GoodRecord<Quote>) => string | number | null;
}

const canonical = (g: GoodRecord<Quote>) => JSON.stringify(g.payload) === g.valueText;
const COLS: Col[] = [
  { name: 'cluster', type: 'text', of: (g) => g.meta.cluster },
  { name: 'topic', type: 'text', of: (g) => g.meta.coordinates.topic },
  { name: 'partition', type: 'integer', of: (g) => g.meta.coordinates.partition },
  { name: 'offset', type: 'bigint', of: (g) => g.meta.coordinates.offset },
  { name: 'kafka_key', type: 'text', of: (g) => g.meta.keyText ?? null },
  { name: 'quote', type: 'text', of: (g) => g.value.quote },
  { name: 'character', type: 'text', of: (g) => g.value.character },
  { name: 'image', type: 'text', of: (g) => g.value.image ?? null },
  { name: 'character_direction', type: 'text', of: (g) => g.value.characterDirection ?? null },
  { name: 'raw_value', type: 'text', of: (g) => (canonical(g) ? null : g.valueText) },
  { name: 'headers', type: 'jsonb', of: (g) => JSON.stringify(g.meta.headers) },
  { name: 'kafka_timestamp', type: 'timestamptz', of: (g) => new Date(g.meta.timestamp).toISOString() },
  { name: 'timestamp_type', type: 'text', of: (g) => g.meta.timestampType },
];
const PK = '"cluster", "topic", "partition", "offset"';
const names = COLS.map((c) => `"${c.name}"`).join(', ');

function ddl(table: string, indexes: boolean): string {
  return [
    `drop table if exists ${table};`,
    `create table ${table} (${COLS.map((c) => `"${c.name}" ${c.type}`).join(', ')}, kafka_key_base64 text, extra json, ingested_at timestamptz not null default now(), primary key (${PK}));`,
    ...(indexes ? [`create index on ${table} (character);`, `create index on ${table} (ingested_at);`] : []),
  ].join('\n');
}

type Writer = (client: pg.Client, table: string, rows: GoodRecord<Quote>[]) => Promise<void>;

const rowObject = (g: GoodRecord<Quote>) => Object.fromEntries(COLS.map((c) => [c.name, c.of(g)]));
const recordset = `json_to_recordset($1::json) as x(${COLS.map((c) => `"${c.name}" ${c.type}`).join(', ')})`;

/** Today's statement form: a CTE with ordinality and the collision join. */
const jsonCte: Writer = async (c, table, rows) => {
  const xs = COLS.map((k) => `"${k.name}" ${k.type}`).join(', ');
  const differs = 't.kafka_timestamp is distinct from x.kafka_timestamp or t.raw_value is distinct from x.raw_value';
  const sql = [
    `with x as (select * from rows from (json_to_recordset($1::json) as (${xs})) with ordinality as x(${names}, "n")),`,
    `w as (insert into ${table} (${names}) select ${names} from x`,
    `  on conflict (${PK}) do nothing returning 1)`,
    `select (select count(*) from w)::int as written, coalesce((select json_agg(x.n - 1) from x join ${table} t using (${PK}) where ${differs}), '[]'::json) as collisions`,
  ].join('\n');
  await c.query(sql, [JSON.stringify(rows.map(rowObject))]);
};

/** One plain INSERT … SELECT FROM json_to_recordset ON CONFLICT DO NOTHING; collisions only looked for when rows conflict. */
const jsonPlain: Writer = async (c, table, rows) => {
  await c.query(`insert into ${table} (${names}) select * from ${recordset} on conflict (${PK}) do nothing`, [
    JSON.stringify(rows.map(rowObject)),
  ]);
};

const FIELD_COLS = ['quote', 'character', 'image', 'character_direction'];
const FIELD_OF: Record<string, string> = {
  quote: 'quote',
  character: 'character',
  image: 'image',
  character_direction: 'characterDirection',
};

/** json, but the value's own text goes in once as `v` (not escaped again); the field columns read it. */
const jsonValue: Writer = async (c, table, rows) => {
  const meta = COLS.filter((k) => !FIELD_COLS.includes(k.name));
  const xs = [...meta.map((k) => `"${k.name}" ${k.type}`), '"v" json'].join(', ');
  const sel = COLS.map((k) => (FIELD_COLS.includes(k.name) ? `v."${FIELD_OF[k.name]}"` : `x."${k.name}"`)).join(', ');
  const vs = FIELD_COLS.map((f) => `"${FIELD_OF[f]}" text`).join(', ');
  const json = `[${rows.map((g) => `${JSON.stringify(Object.fromEntries(meta.map((k) => [k.name, k.of(g)]))).slice(0, -1)},"v":${g.valueText}}`).join(',')}]`;
  await c.query(
    `insert into ${table} (${names}) select ${sel} from json_to_recordset($1::json) as x(${xs}) left join lateral json_to_record(x.v) as v(${vs}) on true on conflict (${PK}) do nothing`,
    [json],
  );
};

/** The same as arrays of arrays (no repeated keys), unpacked by position. */
const jsonArrays: Writer = async (c, table, rows) => {
  const sel = COLS.map((k, i) => (k.type === 'jsonb' ? `(r->>${i})::jsonb` : `(r->>${i})::${k.type}`)).join(', ');
  await c.query(
    `insert into ${table} (${names}) select ${sel} from json_array_elements($1::json) r on conflict (${PK}) do nothing`,
    [JSON.stringify(rows.map((g) => COLS.map((k) => k.of(g))))],
  );
};

/** unnest of one typed array per column. */
const unnest: Writer = async (c, table, rows) => {
  const params = COLS.map((k) => rows.map((g) => k.of(g)));
  const args = COLS.map((k, i) => `$${i + 1}::${k.type}[]`).join(', ');
  await c.query(`insert into ${table} (${names}) select * from unnest(${args}) on conflict (${PK}) do nothing`, params);
};

const escapeText = (v: string | number | null) =>
  v === null
    ? '\\N'
    : String(v).replace(/[\\\n\r\t]/g, (ch) => ({ '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' })[ch] as string);
const textLines = (rows: GoodRecord<Quote>[]) =>
  rows.map((g) => `${COLS.map((k) => escapeText(k.of(g))).join('\t')}\n`).join('');

async function copyText(c: pg.Client, target: string, rows: GoodRecord<Quote>[]): Promise<void> {
  await pipeline(Readable.from([textLines(rows)]), c.query(copyFrom(`copy ${target} (${names}) from stdin`)));
}

const PG_EPOCH_MS = Date.UTC(2000, 0, 1);

/** One row in COPY's binary format. */
function binaryRow(g: GoodRecord<Quote>): Buffer {
  const parts: Buffer[] = [];
  const head = Buffer.alloc(2);
  head.writeInt16BE(COLS.length);
  parts.push(head);
  for (const k of COLS) {
    const v = k.of(g);
    let data: Buffer | null;
    if (v === null) data = null;
    else if (k.type === 'integer') (data = Buffer.alloc(4)).writeInt32BE(v as number);
    else if (k.type === 'bigint') (data = Buffer.alloc(8)).writeBigInt64BE(BigInt(v as number));
    else if (k.type === 'timestamptz')
      (data = Buffer.alloc(8)).writeBigInt64BE(BigInt(g.meta.timestamp - PG_EPOCH_MS) * 1000n);
    else if (k.type === 'jsonb') data = Buffer.concat([Buffer.from([1]), Buffer.from(String(v))]);
    else data = Buffer.from(String(v));
    const len = Buffer.alloc(4);
    len.writeInt32BE(data === null ? -1 : data.length);
    parts.push(len);
    if (data) parts.push(data);
  }
  return Buffer.concat(parts);
}

async function copyBinary(c: pg.Client, target: string, rows: GoodRecord<Quote>[]): Promise<void> {
  const header = Buffer.concat([Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(8)]);
  const trailer = Buffer.from([0xff, 0xff]);
  const body = Buffer.concat([header, ...rows.map(binaryRow), trailer]);
  await pipeline(Readable.from([body]), c.query(copyFrom(`copy ${target} (${names}) from stdin with (format binary)`)));
}

const staged =
  (
    copy: (c: pg.Client, target: string, rows: GoodRecord<Quote>[]) => Promise<void>,
    kind: 'temp' | 'unlogged',
  ): Writer =>
  async (c, table, rows) => {
    const stage = kind === 'temp' ? 'pg_temp.sink_stage' : `${table}_stage`;
    await c.query(
      `${kind === 'temp' ? 'create temp' : 'create unlogged'} table if not exists ${stage} (like ${table} including defaults)`,
    );
    await c.query(`truncate ${stage}`);
    await copy(c, stage, rows);
    await c.query(`insert into ${table} (${names}) select ${names} from ${stage} on conflict (${PK}) do nothing`);
  };

const copyLimit: Writer = (c, table, rows) => copyText(c, table, rows);

interface Variant {
  name: string;
  what: string;
  write: Writer;
  indexes?: boolean;
  chunk?: number;
  /** Chunks in flight at once, each on its own connection. */
  parallel?: number;
}

const VARIANTS: Variant[] = [
  { name: 'copy', what: 'COPY text straight into the table (the limit; not idempotent)', write: copyLimit },
  { name: 'json-cte', what: "json_to_recordset, today's CTE: legacy probe + collision join per row", write: jsonCte },
  { name: 'json', what: 'json_to_recordset, plain INSERT … ON CONFLICT DO NOTHING', write: jsonPlain },
  { name: 'json-v', what: 'json, the value text sent once as it is (v) and read by json_to_record', write: jsonValue },
  { name: 'json-v-x2', what: 'json-v, two chunks in flight on two connections', write: jsonValue, parallel: 2 },
  { name: 'json-arrays', what: 'JSON arrays of arrays, json_array_elements, by position', write: jsonArrays },
  { name: 'unnest', what: 'unnest of typed arrays, one per column', write: unnest },
  {
    name: 'stage-temp',
    what: 'COPY text into a temp table, INSERT … SELECT … ON CONFLICT',
    write: staged(copyText, 'temp'),
  },
  {
    name: 'stage-unlogged',
    what: 'COPY text into an unlogged table, INSERT … SELECT … ON CONFLICT',
    write: staged(copyText, 'unlogged'),
  },
  {
    name: 'stage-binary',
    what: 'binary COPY into a temp table, INSERT … SELECT … ON CONFLICT',
    write: staged(copyBinary, 'temp'),
  },
  { name: 'json-noidx', what: 'json, without the ingested_at and character indexes', write: jsonPlain, indexes: false },
  { name: 'copy-noidx', what: 'COPY, without the two secondary indexes (its limit)', write: copyLimit, indexes: false },
  { name: 'json-500', what: 'json, chunks of 500', write: jsonPlain, chunk: 500 },
  { name: 'json-2000', what: 'json, chunks of 2,000', write: jsonPlain, chunk: 2000 },
  { name: 'json-5000', what: 'json, chunks of 5,000', write: jsonPlain, chunk: 5000 },
  { name: 'json-x2', what: 'json, two chunks in flight on two connections', write: jsonPlain, parallel: 2 },
  {
    name: 'stage-temp-x2',
    what: 'stage-temp, two chunks in flight on two connections',
    write: staged(copyText, 'temp'),
    parallel: 2,
  },
];

const VARIANT_NAMES = VARIANTS.map((v) => v.name);

export const PG_VARIANTS = defineCommand({
  command: 'node --import tsx bench/pg-variants.ts',
  summary: [
    "The Postgres write paths tried for issue 14, side by side on the sink's lean rows: records/s and CPU",
    'per 1,000 records of each, one line per variant and round.',
  ].join('\n'),
  flags: {
    records: { type: 'string', value: 'N', help: 'records each variant writes (default 100,000)' },
    chunk: {
      type: 'string',
      value: 'N',
      help: 'records per statement, unless the variant sets its own (default 1,000)',
    },
    only: { type: 'string', value: 'A,B', help: 'only these variants (default: all)' },
    rounds: { type: 'string', value: 'N', help: 'times every variant runs (default 1)' },
  },
  schema: z
    .object({
      records: intFlag(1).default('100000'),
      chunk: intFlag(1).default('1000'),
      only: z
        .string()
        .transform((s) => s.split(','))
        .refine((names) => names.every((n) => VARIANT_NAMES.includes(n)), {
          message: `takes variant names from ${VARIANT_NAMES.join(', ')}`,
        })
        .optional(),
      rounds: intFlag(1).default('1'),
    })
    .strict(),
  notes: ['Every variant but `copy` (the limit) is idempotent on the identity (ON CONFLICT DO NOTHING).'],
});

async function runVariant(
  url: string,
  v: Variant,
  good: GoodRecord<Quote>[],
  chunk: number,
): Promise<{ rps: number; cpuPer1k: number }> {
  const table = `pgvar_${v.name.replace(/-/g, '_')}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(ddl(table, v.indexes ?? true));
  const clients = await Promise.all(
    Array.from({ length: v.parallel ?? 1 }, async () => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      return c;
    }),
  );
  const size = v.chunk ?? chunk;
  const chunks: GoodRecord<Quote>[][] = [];
  for (let i = 0; i < good.length; i += size) chunks.push(good.slice(i, i + size));
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    clients.map(async (c) => {
      while (next < chunks.length) await v.write(c, table, chunks[next++]);
    }),
  );
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const [{ n }] = (await admin.query<{ n: number }>(`select count(*)::int as n from ${table}`)).rows;
  if (n !== good.length) throw new Error(`${v.name}: ${n} rows, expected ${good.length}`);
  await admin.query(`drop table if exists ${table}, ${table}_stage`);
  await Promise.all([admin.end(), ...clients.map((c) => c.end())]);
  return {
    rps: Math.round((good.length * 1000) / ms),
    cpuPer1k: Math.round(((cpu.user + cpu.system) / 1000 / good.length) * 1000 * 10) / 10,
  };
}

async function main(argv: string[]): Promise<void> {
  const { records: n, chunk, only, rounds } = parseCommand(PG_VARIANTS, argv);
  loadStackEnv();
  const config = loadConfig();
  const good = syntheticRecords(n, 2024, (i) => ({ partition: i % 3, offset: Math.floor(i / 3) })).map((r) => {
    const s = sortRecord(r, quoteType, [], { cluster: 'AbCdEfGhIj' });
    if (s.kind !== 'record') throw new Error('bench record not valid');
    return s.record;
  });
  const chosen = VARIANTS.filter((v) => !only || only.includes(v.name));
  for (let round = 0; round < rounds; round++) {
    for (const v of chosen) {
      const r = await runVariant(config.POSTGRES_URL, v, good, chunk);
      console.log(
        `${v.name.padEnd(16)} ${String(r.rps).padStart(7)} rec/s  cpu ${String(r.cpuPer1k).padStart(5)} ms/1k  ${v.what}`,
      );
    }
  }
}

if (require.main === module) runMain('pg-variants', main);
