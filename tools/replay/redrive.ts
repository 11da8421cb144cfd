/**
 * Redriving an on-failure destination into the source topic: each failed record is produced again
 * (same key, value and headers) with {@link IDENTITY_HEADER} set to the original record's identity
 * (its cluster, coordinates, timestamp and fingerprint), signed, so the sink stores it under that
 * identity: once, however many times it is redriven, and not again if an earlier chunk of its
 * batch had been written.
 *
 * Sources: a Kafka destination topic (read by a consumer group committed after each message, so a
 * second run sends nothing) or a folder of S3 invocation records (each moved to `redriven/` once
 * sent). Entries that are not invocation records are skipped and reported, never half-sent.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import type { Admin, Consumer, Kafka, Message, Producer } from 'kafkajs';
import { causeText } from '../cli/errors';
import { QuotesSinkError } from '../../lib/errors';
import { eventClusterKey, formatCoordinates, IDENTITY_HEADER } from '../../lib/event/coordinates';
import { decodeHeaders } from '../../lib/event/decode';
import { fingerprint, signIdentity } from '../../lib/event/identity';
import type { KafkaEvent, KafkaEventRecord } from '../../lib/event/types';

/** What a redrive signs re-sent records with: SINK_IDENTITY_KEY, and the cluster id the sink uses. */
export interface Resender {
  key: string;
  /** SINK_CLUSTER_ID, as the sink has it (see lib/event/coordinates.ts `eventClusterKey`). */
  clusterId?: string;
}

/** A destination document that is not an invocation record with a payload of Kafka records. */
export class NotAFailureRecordError extends QuotesSinkError {
  constructor(
    /** Where the document is: a file, or topic/partition/offset. */
    readonly where: string,
    /** What is wrong with it. */
    readonly reason: string,
  ) {
    super(`${where} is not an on-failure invocation record: ${reason}`);
  }
}

/** Sending the records of a destination entry failed; the entries before it were redriven and committed. */
export class RedriveSendError extends QuotesSinkError {
  constructor(
    readonly where: string,
    /** Entries redriven (and committed or moved) before this one. */
    readonly entriesBefore: number,
    cause: unknown,
  ) {
    super(
      `sending the records of ${where} failed (${entriesBefore} entries redriven before it; run again to go on from it): ${causeText(cause)}`,
      { cause, retriable: true },
    );
  }
}

/** Messages to produce, by target topic. */
export type Outgoing = Map<string, Message[]>;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isOffset = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
const isBytes = (v: unknown) => v === undefined || v === null || typeof v === 'string';
const isHeaders = (v: unknown) =>
  v === undefined ||
  (Array.isArray(v) &&
    v.every((h) => isObject(h) && Object.values(h).every((b) => Array.isArray(b) && b.every(Number.isInteger))));

/** Why `r` cannot be produced again as a Kafka record, or undefined when it can. */
function recordProblem(r: unknown): string | undefined {
  if (!isObject(r)) return 'a record is not an object';
  if (typeof r.topic !== 'string' || r.topic === '') return 'a record has no topic';
  if (!isOffset(r.partition) || !isOffset(r.offset)) return 'a record has no partition or offset';
  if (typeof r.timestamp !== 'number' || !Number.isFinite(r.timestamp)) return 'a record has no timestamp';
  if (!isBytes(r.key) || !isBytes(r.value)) return 'a record key or value is not base64 text';
  if (!isHeaders(r.headers)) return 'a record has malformed headers';
  return undefined;
}

/**
 * The payload (the failed records' event) of an invocation record. Checks every record before any
 * is sent, so that a document is redriven whole or not at all.
 * @throws NotAFailureRecordError when `doc` is not an invocation record with records to produce.
 */
export function payloadOf(doc: unknown, where: string): KafkaEvent {
  const payload = isObject(doc) ? doc.payload : undefined;
  if (!isObject(payload)) throw new NotAFailureRecordError(where, 'no payload');
  if (!isObject(payload.records)) throw new NotAFailureRecordError(where, 'no payload.records');
  // They name the cluster, part of each record's identity.
  if (!['string', 'undefined'].includes(typeof payload.eventSourceArn))
    throw new NotAFailureRecordError(where, 'payload.eventSourceArn is not text');
  if (!['string', 'undefined'].includes(typeof payload.bootstrapServers))
    throw new NotAFailureRecordError(where, 'payload.bootstrapServers is not text');
  for (const records of Object.values(payload.records)) {
    if (!Array.isArray(records)) throw new NotAFailureRecordError(where, 'payload.records holds a non-list');
    const problem = records.map(recordProblem).find((p) => p !== undefined);
    if (problem) throw new NotAFailureRecordError(where, problem);
  }
  return payload as unknown as KafkaEvent;
}

/** An invocation record from its text (a destination message's value, a file's content). */
export function parseInvocationRecord(text: string | null, where: string): KafkaEvent {
  if (text === null) throw new NotAFailureRecordError(where, 'no value');
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new NotAFailureRecordError(where, 'not JSON');
  }
  return payloadOf(doc, where);
}

/** Event headers (`[{name: signed bytes}]`) as kafkajs headers; repeated names become arrays. */
function headersOf(r: KafkaEventRecord): Record<string, Buffer | Buffer[]> {
  const out: Record<string, Buffer | Buffer[]> = {};
  for (const h of r.headers ?? []) {
    for (const [name, bytes] of Object.entries(h)) {
      const value = Buffer.from(bytes.map((b) => b & 0xff));
      const had = out[name];
      out[name] = had === undefined ? value : [...(Array.isArray(had) ? had : [had]), value];
    }
  }
  return out;
}

/** The failed record's own identity, signed, with its original timestamp and fingerprint. */
function ownIdentity(r: KafkaEventRecord, cluster: string, key: string): string {
  const headers = decodeHeaders(r.headers);
  const print = fingerprint({ timestamp: r.timestamp, keyBase64: r.key, valueBase64: r.value, headers });
  const coordinates = { topic: r.topic, partition: r.partition, offset: r.offset };
  return signIdentity({ cluster, coordinates, timestamp: r.timestamp, fingerprint: print }, key);
}

/**
 * One failed record as the message that redrives it: its key, value and headers, with a signed
 * identity. One it carries already stays as it is: a replay's, failed again, is still that
 * record; one that does not verify is refused again as `forged`, never vouched for by the redrive.
 * Kafka gives the message a new timestamp, so the record's age (maximumRecordAgeInSeconds) counts
 * from the redrive; the original timestamp travels in the identity, and the sink stores that.
 */
export function redriveMessage(r: KafkaEventRecord, cluster: string, key: string): Message {
  const headers = headersOf(r);
  headers[IDENTITY_HEADER] ??= Buffer.from(ownIdentity(r, cluster, key));
  return {
    key: r.key ? Buffer.from(r.key, 'base64') : null,
    value: r.value === null || r.value === undefined ? null : Buffer.from(r.value, 'base64'),
    headers,
  };
}

/** The messages that redrive one invocation record's payload, by topic (`to`, or each record's own). */
export function redriveMessages(payload: KafkaEvent, resender: Resender, to?: string): Outgoing {
  const cluster = eventClusterKey(payload, resender.clusterId);
  const out: Outgoing = new Map();
  for (const records of Object.values(payload.records)) {
    for (const r of records) {
      const topic = to ?? r.topic;
      out.set(topic, [...(out.get(topic) ?? []), redriveMessage(r, cluster, resender.key)]);
    }
  }
  return out;
}

async function send(producer: Producer, out: Outgoing): Promise<number> {
  let n = 0;
  for (const [topic, messages] of out) {
    await producer.send({ topic, acks: -1, messages });
    n += messages.length;
  }
  return n;
}

/** A destination entry that was not redriven because it is not an invocation record. */
export interface SkippedEntry {
  /** The file, or `topic/partition/offset`. */
  where: string;
  reason: string;
}

/** What a redrive did. */
export interface RedriveResult {
  /** Destination entries redriven (messages, or files). */
  entries: number;
  /** Records produced to the source topic. */
  records: number;
  /** Entries that are not invocation records: reported, not redriven (a file stays where it is). */
  skipped: SkippedEntry[];
}

/** Sends one entry's records; a failure names the entry. */
async function sendEntry(producer: Producer, out: Outgoing, where: string, result: RedriveResult): Promise<number> {
  try {
    return await send(producer, out);
  } catch (e) {
    throw new RedriveSendError(where, result.entries, e);
  }
}

/** Called with each skipped entry as it is met (the CLI prints it at once). */
export type OnSkip = (s: SkippedEntry) => void;

/** The entry's payload, or undefined (and `skip` told) when it is not an invocation record. */
function parseOrSkip(text: string | null, where: string, result: RedriveResult, onSkip?: OnSkip) {
  try {
    return parseInvocationRecord(text, where);
  } catch (e) {
    if (!(e instanceof NotAFailureRecordError)) throw e;
    const s = { where, reason: e.reason };
    result.skipped.push(s);
    onSkip?.(s);
    return undefined;
  }
}

/**
 * Redrives the JSON files of `dir` (sorted by name: oldest first), moving each to `dir/redriven/`
 * once its records are sent. A file that is not an invocation record is skipped, reported and left
 * where it is.
 */
export async function redriveFolder(
  producer: Producer,
  dir: string,
  resender: Resender,
  to?: string,
  onSkip?: OnSkip,
): Promise<RedriveResult> {
  const done = path.join(dir, 'redriven');
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.json') && !f.startsWith('.'))
    .sort();
  const result: RedriveResult = { entries: 0, records: 0, skipped: [] };
  for (const f of files) {
    const file = path.join(dir, f);
    const payload = parseOrSkip(readFileSync(file, 'utf8'), file, result, onSkip);
    if (!payload) continue;
    result.records += await sendEntry(producer, redriveMessages(payload, resender, to), file, result);
    mkdirSync(done, { recursive: true });
    renameSync(file, path.join(done, f));
    result.entries++;
  }
  return result;
}

/** Per partition of `topic`, the end to read up to, for the partitions `groupId` has not reached yet. */
async function todo(admin: Admin, topic: string, groupId: string): Promise<Map<number, number>> {
  const [marks, committed] = await Promise.all([admin.fetchTopicOffsets(topic), committedOf(admin, topic, groupId)]);
  const left = new Map<number, number>();
  for (const m of marks)
    if (Math.max(committed.get(m.partition) ?? -1, Number(m.low)) < Number(m.high))
      left.set(m.partition, Number(m.high));
  return left;
}

/** The committed offset of `groupId` per partition of `topic` (-1: none). */
async function committedOf(admin: Admin, topic: string, groupId: string): Promise<Map<number, number>> {
  const [t] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return new Map(t.partitions.map((p) => [p.partition, Number(p.offset)]));
}

/** How often a run checks whether the group (any member) has committed every end. */
const GROUP_CHECK_MS = 250;

/**
 * Redrives the destination topic `from` with consumer group `groupId`: reads up to the ends it has at
 * the start, producing each message's records and committing after each message is sent (so a
 * failure never re-sends what was before it). A message that is not an invocation record is
 * skipped, reported and committed past.
 *
 * Several runs with the same group share the partitions: each ends once the group's committed
 * offsets reach every end, whoever committed them (a member left without partitions by a
 * rebalance would otherwise wait for ends it never reads). Delivery is at least once: a message
 * in flight when its partition moves to another member can be sent by both. The sink stores it
 * once, by the identity it carries.
 */
export async function redriveTopic(
  kafka: Pick<Kafka, 'admin' | 'consumer'>,
  producer: Producer,
  from: string,
  groupId: string,
  resender: Resender,
  to?: string,
  onSkip?: OnSkip,
): Promise<RedriveResult> {
  const result: RedriveResult = { entries: 0, records: 0, skipped: [] };
  const admin = kafka.admin();
  await admin.connect();
  try {
    const ends = await todo(admin, from, groupId);
    if (ends.size === 0) return result;
    const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 200, allowAutoTopicCreation: false });
    await consumer.connect();
    try {
      await consumeUntil(consumer, admin, from, groupId, ends, async (m) => {
        const where = formatCoordinates({ topic: from, partition: m.partition, offset: Number(m.offset) });
        const payload = parseOrSkip(m.value?.toString('utf8') ?? null, where, result, onSkip);
        if (!payload) return;
        result.records += await sendEntry(producer, redriveMessages(payload, resender, to), where, result);
        result.entries++;
      });
    } finally {
      await consumer.disconnect();
    }
  } finally {
    await admin.disconnect();
  }
  return result;
}

/**
 * Runs `consumer` on `topic`, handing over each message below its partition's end and committing
 * past it, until the group's committed offsets reach every end. After a failure nothing more is
 * handled or committed: the run ends with it, and the next one starts at the failed message.
 */
async function consumeUntil(
  consumer: Consumer,
  admin: Admin,
  topic: string,
  groupId: string,
  ends: Map<number, number>,
  handle: (m: { partition: number; offset: string; value: Buffer | null }) => Promise<void>,
): Promise<void> {
  let stopped = false;
  let finish!: (e?: unknown) => void;
  const finished = new Promise<void>((resolve, reject) => {
    finish = (e) => {
      stopped = true;
      if (e === undefined) resolve();
      else reject(e instanceof Error ? e : new QuotesSinkError(String(e)));
    };
  });
  const reached = async () => {
    const committed = await committedOf(admin, topic, groupId);
    return [...ends].every(([p, end]) => (committed.get(p) ?? -1) >= end);
  };
  const timer = setInterval(() => {
    reached().then(
      (yes) => yes && finish(),
      () => undefined, // checked again at the next tick; the consumer reports a lost broker itself
    );
  }, GROUP_CHECK_MS);
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    if (!payload.restart) finish(payload.error);
  });
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
        const end = ends.get(batch.partition);
        for (const m of batch.messages) {
          // Stale: the partition moved to another member, which starts at the last commit.
          if (stopped || !isRunning() || isStale()) return;
          if (end === undefined || Number(m.offset) >= end) {
            // Past the end this run reads to: stop fetching it (not re-read in a loop meanwhile).
            consumer.pause([{ topic, partitions: [batch.partition] }]);
            return;
          }
          try {
            await handle({ partition: batch.partition, offset: m.offset, value: m.value });
          } catch (e) {
            return finish(e);
          }
          if (stopped) return;
          await consumer.commitOffsets([{ topic, partition: batch.partition, offset: String(Number(m.offset) + 1) }]);
          resolveOffset(m.offset);
          await heartbeat();
        }
      },
    });
    await finished;
  } finally {
    clearInterval(timer);
  }
}
