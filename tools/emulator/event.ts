/**
 * Builds Lambda Kafka events exactly as the AWS event source mapping does, from Kafka messages.
 * Used by the local emulator, the fixture recorder, the benchmark and the tests.
 */
import type { KafkaMessage } from 'kafkajs';
import { partitionKey } from '../../lib/event/coordinates';
import type { EventSource, KafkaEvent, KafkaEventRecord } from '../../lib/event/types';

/** Kafka's two timestamp types, as the event spells them. */
export type TimestampType = KafkaEventRecord['timestampType'];

/** A Kafka message as a consumer sees it (kafkajs's shape, reduced to what the event needs). */
export interface SourceMessage {
  topic: string;
  partition: number;
  offset: number | string;
  timestamp: number | string;
  key?: Buffer | string | null;
  /** null = tombstone. */
  value: Buffer | string | null;
  headers?: Record<string, Buffer | string | (Buffer | string)[] | undefined>;
  timestampType?: TimestampType;
}

/** Which AWS event shape to build: MSK (`aws:kafka`) or self-managed Kafka. */
export type EventShape = 'msk' | 'self-managed';

/** The ARN the emulator puts on MSK-shaped events (a fixed, obviously local one). */
export const LOCAL_MSK_ARN =
  'arn:aws:kafka:local:000000000000:cluster/quotes-sink-local/00000000-0000-0000-0000-000000000000-1';

const toBuffer = (v: Buffer | string) => (typeof v === 'string' ? Buffer.from(v, 'utf8') : v);

/** Bytes as Java's signed bytes (-128..127), as AWS encodes header values. */
export function toSignedBytes(buf: Buffer): number[] {
  const out = new Array<number>(buf.length);
  for (let i = 0; i < buf.length; i++) out[i] = buf[i] > 127 ? buf[i] - 256 : buf[i];
  return out;
}

/** One event record. A missing key is left out, as AWS does; a tombstone's value is null. */
export function toEventRecord(m: SourceMessage): KafkaEventRecord {
  const r: KafkaEventRecord = {
    topic: m.topic,
    partition: m.partition,
    offset: Number(m.offset),
    timestamp: Number(m.timestamp),
    timestampType: m.timestampType ?? 'CREATE_TIME',
    headers: [],
  };
  if (m.key !== undefined && m.key !== null) r.key = toBuffer(m.key).toString('base64');
  r.value = m.value === null ? null : toBuffer(m.value).toString('base64');
  for (const [name, v] of Object.entries(m.headers ?? {})) {
    if (v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) r.headers.push({ [name]: toSignedBytes(toBuffer(one)) });
  }
  return r;
}

/**
 * What kafkajs attaches to a message of a v2 record batch at run time without declaring it: the
 * batch's context, where it decoded the batch attributes (`timestampType`: 0 create, 1 log append).
 */
interface FetchedMessage {
  batchContext?: { timestampType?: number };
}

/** Bit 3 of the attributes: set when the broker stamped the time (LogAppendTime). */
const TIMESTAMP_TYPE_BIT = 0x08;

/**
 * The timestamp type of a fetched message. In record batch v2 (magic 2, every Kafka since 0.11)
 * it is bit 3 of the *batch* attributes; a record's own `attributes` are unused there and always 0,
 * so reading them labels LogAppendTime topics CREATE_TIME. kafkajs surfaces the batch's bit as
 * `batchContext.timestampType`. A legacy message set (magic 1) has no batch context and keeps the
 * bit in the message's own attributes.
 */
export function timestampTypeOf(m: KafkaMessage): TimestampType {
  const batch = (m as FetchedMessage).batchContext;
  const logAppend = batch ? batch.timestampType === 1 : (m.attributes & TIMESTAMP_TYPE_BIT) !== 0;
  return logAppend ? 'LOG_APPEND_TIME' : 'CREATE_TIME';
}

/** The event record of one kafkajs message (the emulator's and the recorder's one mapping). */
export function fromKafkaMessage(topic: string, partition: number, m: KafkaMessage): KafkaEventRecord {
  return toEventRecord({
    topic,
    partition,
    offset: m.offset,
    timestamp: m.timestamp,
    key: m.key,
    value: m.value,
    headers: m.headers,
    timestampType: timestampTypeOf(m),
  });
}

/** An event holding `records`, grouped under `"<topic>-<partition>"` in arrival order. */
export function buildEvent(
  source: EventShape,
  bootstrapServers: string,
  records: KafkaEventRecord[],
  eventSourceArn = LOCAL_MSK_ARN,
): KafkaEvent {
  const grouped: Record<string, KafkaEventRecord[]> = {};
  for (const r of records) (grouped[partitionKey(r)] ??= []).push(r);
  const eventSource: EventSource = source === 'msk' ? 'aws:kafka' : 'SelfManagedKafka';
  return source === 'msk'
    ? { eventSource, eventSourceArn, bootstrapServers, records: grouped }
    : { eventSource, bootstrapServers, records: grouped };
}
