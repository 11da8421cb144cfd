/**
 * Redriving an on-failure destination into the source topic: each failed record is produced again
 * (same key, value and headers) with {@link IDENTITY_HEADER} set to the original record's identity
 * (its cluster and coordinates), so the sink stores it under that identity: once, however many
 * times it is redriven, and not again if an earlier chunk of its batch had been written.
 *
 * Sources: a Kafka destination topic (read by a consumer group committed as it goes, so a second
 * run sends nothing) or a folder of S3 invocation records (each moved to `redriven/` once sent).
 */
import { mkdirSync, readdirSync, readFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import type { Consumer, Kafka, Message, Producer } from 'kafkajs';
import { QuotesSinkError } from '../errors';
import { eventClusterKey, IDENTITY_HEADER } from '../event/coordinates';
import { decodeHeaders } from '../event/decode';
import { fingerprint, signIdentity, verifyIdentity } from '../event/identity';
import type { KafkaEvent, KafkaEventRecord } from '../event/types';

/** What a redrive signs re-sent records with: SINK_IDENTITY_KEY, and the cluster id the sink uses. */
export interface Resender {
  key: string;
  /** SINK_CLUSTER_ID, as the sink has it (see lib/event/coordinates.ts `eventClusterKey`). */
  clusterId?: string;
}

/** A destination document that is not an invocation record with a payload of Kafka records. */
export class NotAFailureRecordError extends QuotesSinkError {}

/** Messages to produce, by target topic. */
export type Outgoing = Map<string, Message[]>;

/** The payload (the failed records' event) of an invocation record. */
export function payloadOf(doc: unknown, where: string): KafkaEvent {
  const payload = (doc as { payload?: KafkaEvent } | null)?.payload;
  if (!payload || typeof payload.records !== 'object' || payload.records === null) {
    throw new NotAFailureRecordError(`${where} is not an on-failure invocation record with a payload of records`);
  }
  return payload;
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

/**
 * The identity header of a failed record's redrive: the one it carries when that is valid (a
 * replay's, failed again), else its own identity signed, with its original timestamp and
 * fingerprint.
 */
function identityFor(r: KafkaEventRecord, cluster: string, key: string): string {
  const headers = decodeHeaders(r.headers);
  const content = { keyBase64: r.key, valueBase64: r.value, headers };
  const carried = headers.find((h) => h.name === IDENTITY_HEADER && h.nameBase64 === undefined);
  if (carried?.value !== undefined && verifyIdentity(carried.value, key, content).ok) return carried.value;
  const coordinates = { topic: r.topic, partition: r.partition, offset: r.offset };
  const print = fingerprint({ ...content, timestamp: r.timestamp });
  return signIdentity({ cluster, coordinates, timestamp: r.timestamp, fingerprint: print }, key);
}

/**
 * One failed record as the message that redrives it: its key, value and headers, with a signed
 * identity. Kafka gives it a new timestamp, so the record's age (maximumRecordAgeInSeconds) counts
 * from the redrive; the original timestamp travels in the identity, and the sink stores that.
 */
export function redriveMessage(r: KafkaEventRecord, cluster: string, key: string): Message {
  const headers = headersOf(r);
  headers[IDENTITY_HEADER] = Buffer.from(identityFor(r, cluster, key));
  return {
    key: r.key ? Buffer.from(r.key, 'base64') : null,
    value: r.value === null || r.value === undefined ? null : Buffer.from(r.value, 'base64'),
    headers,
  };
}

/** The messages that redrive one invocation record, by topic (`to`, or each record's own). */
export function redriveMessages(doc: unknown, where: string, resender: Resender, to?: string): Outgoing {
  const payload = payloadOf(doc, where);
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

/** What a redrive did. */
export interface RedriveResult {
  /** Destination entries read (messages, or files). */
  entries: number;
  /** Records produced to the source topic. */
  records: number;
}

/**
 * Redrives the JSON files of `dir` (sorted by name: oldest first), moving each to `dir/redriven/`
 * once its records are sent.
 */
export async function redriveFolder(
  producer: Producer,
  dir: string,
  resender: Resender,
  to?: string,
): Promise<RedriveResult> {
  const done = path.join(dir, 'redriven');
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.json') && !f.startsWith('.'))
    .sort();
  let records = 0;
  for (const f of files) {
    const file = path.join(dir, f);
    records += await send(producer, redriveMessages(JSON.parse(readFileSync(file, 'utf8')), file, resender, to));
    mkdirSync(done, { recursive: true });
    renameSync(file, path.join(done, f));
  }
  return { entries: files.length, records };
}

/** The next offset to read per partition of `topic` for `groupId`, and the ends to read up to. */
async function todo(kafka: Pick<Kafka, 'admin'>, topic: string, groupId: string): Promise<Map<number, number>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [marks, [committed]] = await Promise.all([
      admin.fetchTopicOffsets(topic),
      admin.fetchOffsets({ groupId, topics: [topic] }),
    ]);
    const at = new Map(committed.partitions.map((p) => [p.partition, Number(p.offset)]));
    const left = new Map<number, number>();
    for (const m of marks)
      if (Math.max(at.get(m.partition) ?? -1, Number(m.low)) < Number(m.high)) left.set(m.partition, Number(m.high));
    return left;
  } finally {
    await admin.disconnect();
  }
}

/**
 * Redrives the destination topic `from` with consumer group `groupId`: reads up to the end it has at
 * the start, producing each message's records, committing after each batch is sent.
 */
export async function redriveTopic(
  kafka: Pick<Kafka, 'admin' | 'consumer'>,
  producer: Producer,
  from: string,
  groupId: string,
  resender: Resender,
  to?: string,
): Promise<RedriveResult> {
  const ends = await todo(kafka, from, groupId);
  const result: RedriveResult = { entries: 0, records: 0 };
  if (ends.size === 0) return result;
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 200, allowAutoTopicCreation: false });
  await consumer.connect();
  try {
    await consumeUntil(consumer, from, ends, async (messages) => {
      for (const m of messages) {
        result.records += await send(
          producer,
          redriveMessages(JSON.parse(m.value?.toString() ?? 'null'), `${from} offset ${m.offset}`, resender, to),
        );
        result.entries++;
      }
    });
  } finally {
    await consumer.disconnect();
  }
  return result;
}

/** Runs `consumer` on `topic`, handing over each batch and committing it, until every end is reached. */
async function consumeUntil(
  consumer: Consumer,
  topic: string,
  ends: Map<number, number>,
  handle: (messages: { offset: string; value: Buffer | null }[]) => Promise<void>,
): Promise<void> {
  let finish!: (e?: Error) => void;
  const finished = new Promise<void>((resolve, reject) => (finish = (e) => (e ? reject(e) : resolve())));
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      const end = ends.get(batch.partition);
      const messages = batch.messages.filter((m) => end !== undefined && Number(m.offset) < end);
      try {
        await handle(messages);
      } catch (e) {
        return finish(e as Error);
      }
      if (messages.length) {
        const next = Number(messages[messages.length - 1].offset) + 1;
        await consumer.commitOffsets([{ topic, partition: batch.partition, offset: String(next) }]);
        if (end !== undefined && next >= end) ends.delete(batch.partition);
      }
      if (ends.size === 0) finish();
    },
  });
  await finished;
}
