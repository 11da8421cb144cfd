/**
 * Builds Lambda Kafka events exactly as the AWS event source mapping does, from Kafka messages.
 * Used by the local emulator, the fixture recorder, the benchmark and the tests.
 */
import type { EventSource, KafkaEvent, KafkaEventRecord } from './types';

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
  timestampType?: 'CREATE_TIME' | 'LOG_APPEND_TIME';
}

/** The ARN the emulator puts on MSK-shaped events (a fixed, obviously local one). */
export const LOCAL_MSK_ARN = 'arn:aws:kafka:local:000000000000:cluster/quotes-sink-local/00000000-0000-0000-0000-000000000000-1';

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

/** An event holding `records`, grouped under `"<topic>-<partition>"` in arrival order. */
export function buildEvent(source: 'msk' | 'self-managed', bootstrapServers: string, records: KafkaEventRecord[], eventSourceArn = LOCAL_MSK_ARN): KafkaEvent {
  const grouped: Record<string, KafkaEventRecord[]> = {};
  for (const r of records) (grouped[`${r.topic}-${r.partition}`] ??= []).push(r);
  const eventSource: EventSource = source === 'msk' ? 'aws:kafka' : 'SelfManagedKafka';
  return source === 'msk'
    ? { eventSource, eventSourceArn, bootstrapServers, records: grouped }
    : { eventSource, bootstrapServers, records: grouped };
}
