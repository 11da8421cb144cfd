/** Dead letters you can act on: list them, and re-publish their raw records to Kafka. */
import { randomUUID } from 'node:crypto';
import type { IHeaders, Kafka, Message, Producer } from 'kafkajs';
import { Partitioners } from 'kafkajs';
import pg from 'pg';
import type { Config } from '../../lib/config';
import type { StoredHeader } from '../../lib/event/decode';
import { IDENTITY_HEADER, formatCoordinates, parseCoordinates, type Coordinates } from '../../lib/event/coordinates';
import { fingerprint, requireIdentityKey, RESEND_HEADERS, signIdentity } from '../../lib/event/identity';
import { QuotesSinkError } from '../../lib/errors';
import { deadLetterSql, REPLAY_SLICE, type DeadLetterTableRow } from '../../lib/postgres/dead-letters';
import { qualifiedTable } from '../../lib/postgres/names';

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
  /** When a later write stored the record (a store had refused it); null until then. */
  storedAt: Date | null;
}

/** Which dead letters {@link DeadLetters.list} returns. */
export interface DeadLetterQuery {
  /** At most this many (default 50)… */
  limit?: number;
  /** …after skipping this many, newest first (default 0). */
  offset?: number;
  /** Replayed, superseded and stored ones too (default: pending ones only). */
  includeReplayed?: boolean;
  /** Only those of these topics (e.g. a route's); default every topic. */
  topics?: readonly string[];
}

/** A page of dead letters and the number of all that match. */
export interface DeadLetterPage {
  rows: DeadLetterRow[];
  total: number;
  offset: number;
}

/** The columns `list` reads. */
type DeadLetterListRow = Pick<
  DeadLetterTableRow,
  'topic' | 'partition' | 'offset' | 'error_kind' | 'error' | 'value_base64' | 'failed_at' | 'replayed_at' | 'stored_at'
>;

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
  storedAt: x.stored_at,
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

/** Headers as stored back to what the producer sent, less those a re-sender adds (it adds its own). */
export function headersFromStored(stored: StoredHeader[]): IHeaders {
  const out: IHeaders = {};
  for (const h of stored) {
    if (h.nameBase64 === undefined && RESEND_HEADERS.has(h.name)) continue;
    const name = h.nameBase64 !== undefined ? Buffer.from(h.nameBase64, 'base64').toString('utf8') : h.name;
    const value = h.value !== undefined ? Buffer.from(h.value, 'utf8') : Buffer.from(h.valueBase64 ?? '', 'base64');
    const prev = out[name];
    out[name] = prev === undefined ? value : ([] as (string | Buffer)[]).concat(prev as Buffer | Buffer[], value);
  }
  return out;
}

/**
 * What a replay did: the ids it sent, the topics it skipped because they no longer exist, the
 * collisions it left (they need `asNew`), and its id.
 */
export interface ReplayResult {
  replayed: string[];
  missingTopics: string[];
  /** Pending collision dead letters not sent: their identity is another record's. */
  collisions: number;
  /** Sent in the `dead-letter-replay-id` header of every record of this replay. */
  replayId: string;
}

/** The columns a replay reads. */
export type ReplayRow = Pick<
  DeadLetterTableRow,
  | 'cluster'
  | 'topic'
  | 'partition'
  | 'offset'
  | 'fingerprint'
  | 'kafka_key_base64'
  | 'value_base64'
  | 'headers'
  | 'timestamp_ms'
  | 'kafka_timestamp'
  | 'error_kind'
>;

/**
 * What a dead letter's replay signs: its identity, original timestamp, and the fingerprint of what
 * is sent (the row's content: the stored fingerprint unless someone edited the row to fix it).
 */
function replayedIdentity(r: ReplayRow) {
  const timestamp = r.timestamp_ms !== null ? Number(r.timestamp_ms) : (r.kafka_timestamp?.getTime() ?? 0);
  const content = { keyBase64: r.kafka_key_base64, valueBase64: r.value_base64, headers: r.headers };
  return {
    cluster: r.cluster,
    coordinates: { topic: r.topic, partition: r.partition, offset: Number(r.offset) },
    timestamp,
    fingerprint: fingerprint({ ...content, timestamp }),
  };
}

/**
 * The Kafka message that replays a dead letter: its raw key, value and headers, where it came from,
 * and its identity signed with `key` (so the sink stores it as the record it was, once however
 * often it is sent). Kafka gives it a new timestamp; the original travels in the identity. A
 * collision `asNew` carries no identity: its own is another record's, so it is a new record.
 */
export function replayMessage(r: ReplayRow, replayId: string, key: string, asNew = false): Message {
  const identity = replayedIdentity(r);
  return {
    key: r.kafka_key_base64 === null ? null : Buffer.from(r.kafka_key_base64, 'base64'),
    value: r.value_base64 === null ? null : Buffer.from(r.value_base64, 'base64'),
    headers: {
      ...headersFromStored(r.headers),
      'dead-letter-of': formatCoordinates(identity.coordinates),
      'dead-letter-replay-id': replayId,
      ...(asNew ? {} : { [IDENTITY_HEADER]: signIdentity(identity, key) }),
    },
  };
}

/** Topic names on the cluster (a short admin connection). */
async function listTopics(kafka: Kafka): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await admin.listTopics();
  } finally {
    await admin.disconnect();
  }
}

/** The Postgres dead-letter table, listed and replayed (its statements: lib/postgres/dead-letters.ts). */
export class DeadLetters {
  private readonly sql: ReturnType<typeof deadLetterSql>;
  constructor(private readonly config: Config) {
    this.sql = deadLetterSql(qualifiedTable(config, 'deadLetters'));
  }

  private async withClient<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
    const c = new pg.Client({
      connectionString: this.config.POSTGRES_URL,
      connectionTimeoutMillis: this.config.POSTGRES_CONNECT_TIMEOUT_MS,
    });
    // A dropped connection also rejects the query in progress (or the next one); without a listener
    // the client's 'error' event would crash the process instead.
    c.on('error', () => undefined);
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  }

  /**
   * One page of dead letters, newest first, and how many there are in all (pending ones only,
   * unless `includeReplayed`).
   */
  list(page: DeadLetterQuery = {}): Promise<DeadLetterPage> {
    const { limit = 50, offset = 0, includeReplayed = false } = page;
    const topics = page.topics ? [...page.topics] : null;
    return this.withClient(async (c) => {
      const total = await c.query<{ n: number }>(this.sql.count, [includeReplayed, topics]);
      const r = await c.query<DeadLetterListRow>(this.sql.page, [includeReplayed, limit, offset, topics]);
      return { rows: r.rows.map(toDeadLetterRow), total: total.rows[0].n, offset };
    });
  }

  /**
   * Re-publishes the raw key, value and headers of the chosen dead letters (not yet replayed) to
   * their topic, and marks them replayed as each send is acknowledged: a slice at a time, in a
   * transaction of its own that holds the slice's rows locked, so two replays never both send a
   * row and a failure keeps what was sent before it. Dead letters of topics that no longer exist
   * are skipped and reported. Each record carries its original identity (IDENTITY_HEADER), so the
   * sink stores a copy sent twice once.
   */
  async replay(kafka: Kafka, which: { id?: string; all?: boolean; asNew?: boolean }): Promise<ReplayResult> {
    if (!which.id && !which.all) throw new QuotesSinkError('replay needs an id or all');
    const key = requireIdentityKey(this.config);
    const filter = which.id ? parseDeadLetterId(which.id) : undefined;
    const asNew = which.asNew ?? false;
    const topics = await this.pendingTopics(filter, asNew);
    const live = new Set(await listTopics(kafka));
    const result: ReplayResult = {
      replayed: [],
      missingTopics: topics.filter((t) => !live.has(t)),
      collisions: asNew ? 0 : await this.pendingCollisions(filter),
      replayId: randomUUID(),
    };
    const producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await producer.connect();
    try {
      for (const topic of topics.filter((t) => live.has(t))) {
        for (;;) {
          const sent = await this.replaySlice(producer, topic, filter, { replayId: result.replayId, key, asNew });
          result.replayed.push(...sent);
          if (sent.length < REPLAY_SLICE) break;
        }
      }
    } finally {
      await producer.disconnect();
    }
    return result;
  }

  /** Topics with dead letters to replay (only the id's topic when one is given). */
  private pendingTopics(filter: Coordinates | undefined, asNew: boolean): Promise<string[]> {
    return this.withClient(async (c) => {
      const q = this.sql.replayTopics(asNew, filter?.topic);
      const r = await c.query<{ topic: string }>(q.sql, q.params);
      return r.rows.map((x) => x.topic);
    });
  }

  /** Pending collision dead letters (of the id, when one is given): a plain replay leaves them. */
  private pendingCollisions(filter?: Coordinates): Promise<number> {
    return this.withClient(async (c) => {
      const q = this.sql.pendingCollisions(filter);
      const r = await c.query<{ n: number }>(q.sql, q.params);
      return r.rows[0].n;
    });
  }

  /** Sends and marks up to {@link REPLAY_SLICE} dead letters of one topic, in one transaction. */
  private replaySlice(
    producer: Producer,
    topic: string,
    filter: Coordinates | undefined,
    how: { replayId: string; key: string; asNew: boolean },
  ): Promise<string[]> {
    return this.withClient(async (c) => {
      await c.query('begin');
      try {
        const slice = this.sql.replaySlice(topic, how.asNew, filter);
        const rows = (await c.query<ReplayRow>(slice.sql, slice.params)).rows;
        if (rows.length > 0) {
          const messages = rows.map((r) => replayMessage(r, how.replayId, how.key, how.asNew));
          await producer.send({ topic, acks: -1, messages });
          const mark = this.sql.markReplayed(topic, rows);
          await c.query(mark.sql, mark.params);
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
