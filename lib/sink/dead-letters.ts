/** Dead letters you can act on: list them, and re-publish their raw records to Kafka. */
import type { Kafka, IHeaders } from 'kafkajs';
import { Partitioners } from 'kafkajs';
import pg from 'pg';
import type { Config } from '../config';
import type { StoredHeader } from '../event/decode';
import { formatCoordinates, parseCoordinates } from '../event/coordinates';
import { QuotesSinkError } from '../errors';
import { qualifiedTable } from './tables';

export interface DeadLetterRow {
  id: string;
  topic: string;
  partition: number;
  offset: number;
  errorKind: string;
  error: string;
  preview: string;
  failedAt: Date;
  replayedAt: Date | null;
}

/** Which dead letters {@link DeadLetters.list} returns. */
export interface DeadLetterQuery {
  /** At most this many (default 50)… */
  limit?: number;
  /** …after skipping this many, newest first (default 0). */
  offset?: number;
  /** Replayed ones too (default: not yet replayed only). */
  includeReplayed?: boolean;
}

/** A page of dead letters and the number of all that match. */
export interface DeadLetterPage {
  rows: DeadLetterRow[];
  total: number;
  offset: number;
}

/** The columns `list` reads (pg returns bigint offsets as strings). */
interface DeadLetterListRow {
  topic: string;
  partition: number;
  offset: string;
  error_kind: string;
  error: string;
  value_base64: string | null;
  failed_at: Date;
  replayed_at: Date | null;
}

const toDeadLetterRow = (x: DeadLetterListRow): DeadLetterRow => ({
  id: formatCoordinates({ topic: x.topic, partition: x.partition, offset: Number(x.offset) }),
  topic: x.topic,
  partition: x.partition,
  offset: Number(x.offset),
  errorKind: x.error_kind,
  error: x.error,
  preview: preview(x.value_base64),
  failedAt: x.failed_at,
  replayedAt: x.replayed_at,
});

/** `topic/partition/offset`, the id the CLI shows and takes. */
export function parseDeadLetterId(id: string): { topic: string; partition: number; offset: number } {
  const c = parseCoordinates(id);
  if (!c) throw new QuotesSinkError(`dead letter id ${JSON.stringify(id)} is not topic/partition/offset`);
  return c;
}

/** C0/C1 controls and bidi overrides: a terminal would act on them instead of showing them. */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/** `text` safe to print on a terminal: control characters as `\uXXXX` escapes. */
export const printable = (text: string): string =>
  text.replace(CONTROL, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);

/** A printable preview of a raw value: its text if UTF-8 (controls escaped), else a note of its size. */
export function preview(valueBase64: string | null, max = 80): string {
  if (valueBase64 === null) return '(no value)';
  const buf = Buffer.from(valueBase64, 'base64');
  const text = buf.toString('utf8');
  if (!Buffer.from(text, 'utf8').equals(buf)) return `(${buf.length} bytes, not UTF-8)`;
  return printable(text.length > max ? `${text.slice(0, max)}…` : text);
}

/** Headers as stored back to what the producer sent. */
export function headersFromStored(stored: StoredHeader[]): IHeaders {
  const out: IHeaders = {};
  for (const h of stored) {
    const name = h.name.startsWith('base64:') ? Buffer.from(h.name.slice(7), 'base64').toString('utf8') : h.name;
    const value = h.value !== undefined ? Buffer.from(h.value, 'utf8') : Buffer.from(h.valueBase64 ?? '', 'base64');
    const prev = out[name];
    out[name] = prev === undefined ? value : ([] as (string | Buffer)[]).concat(prev as Buffer | Buffer[], value);
  }
  return out;
}

export class DeadLetters {
  private readonly table: string;
  constructor(private readonly config: Config) {
    this.table = qualifiedTable(config, 'deadLetters');
  }

  private async withClient<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
    const c = new pg.Client({
      connectionString: this.config.POSTGRES_URL,
      connectionTimeoutMillis: this.config.POSTGRES_CONNECT_TIMEOUT_MS,
    });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  }

  /**
   * One page of dead letters, newest first, and how many there are in all (not yet replayed
   * ones only, unless `includeReplayed`).
   */
  list(page: DeadLetterQuery = {}): Promise<DeadLetterPage> {
    const { limit = 50, offset = 0, includeReplayed = false } = page;
    return this.withClient(async (c) => {
      const where = 'where $1 or replayed_at is null';
      const total = await c.query<{ n: number }>(`select count(*)::int as n from ${this.table} ${where}`, [
        includeReplayed,
      ]);
      const r = await c.query<DeadLetterListRow>(
        `select topic, partition, "offset", error_kind, error, value_base64, failed_at, replayed_at from ${this.table}
         ${where} order by failed_at desc, topic, partition, "offset" limit $2 offset $3`,
        [includeReplayed, limit, offset],
      );
      return { rows: r.rows.map(toDeadLetterRow), total: total.rows[0].n, offset };
    });
  }

  /**
   * Re-publishes the raw key, value and headers of the chosen dead letters (not yet replayed) to
   * their topic, then marks them replayed; rows are locked meanwhile, so two replays never both
   * send one. Returns the ids replayed.
   */
  replay(kafka: Kafka, which: { id?: string; all?: boolean }): Promise<string[]> {
    if (!which.id && !which.all) throw new Error('replay needs --id ID or --all');
    return this.withClient(async (c) => {
      await c.query('begin');
      try {
        const where = which.id ? 'and topic = $1 and partition = $2 and "offset" = $3' : '';
        const params = which.id ? Object.values(parseDeadLetterId(which.id)) : [];
        const rows = (
          await c.query(
            `select topic, partition, "offset", kafka_key_base64, value_base64, headers from ${this.table} where replayed_at is null ${where} order by topic, partition, "offset" for update skip locked`,
            params,
          )
        ).rows;
        if (rows.length > 0) {
          const producer = kafka.producer({
            idempotent: true,
            maxInFlightRequests: 1,
            createPartitioner: Partitioners.DefaultPartitioner,
          });
          await producer.connect();
          try {
            const byTopic = new Map<string, typeof rows>();
            for (const r of rows) byTopic.set(r.topic, [...(byTopic.get(r.topic) ?? []), r]);
            for (const [topic, list] of byTopic) {
              await producer.send({
                topic,
                acks: -1,
                messages: list.map((r) => ({
                  key: r.kafka_key_base64 === null ? null : Buffer.from(r.kafka_key_base64, 'base64'),
                  value: r.value_base64 === null ? null : Buffer.from(r.value_base64, 'base64'),
                  headers: {
                    ...headersFromStored(r.headers),
                    'dead-letter-of': formatCoordinates({
                      topic: r.topic,
                      partition: r.partition,
                      offset: Number(r.offset),
                    }),
                  },
                })),
              });
            }
          } finally {
            await producer.disconnect();
          }
          await c.query(
            `update ${this.table} set replayed_at = now() where (topic, partition, "offset") in (select * from unnest($1::text[], $2::int[], $3::bigint[]))`,
            [rows.map((r) => r.topic), rows.map((r) => r.partition), rows.map((r) => r.offset)],
          );
        }
        await c.query('commit');
        return rows.map((r) => formatCoordinates({ topic: r.topic, partition: r.partition, offset: Number(r.offset) }));
      } catch (e) {
        await c.query('rollback').catch(() => undefined);
        throw e;
      }
    });
  }
}
