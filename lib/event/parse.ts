/** Checks that an unknown input is a Kafka event, before anything is written. */
import { InvalidEventError } from './errors';
import type { KafkaEvent, KafkaEventRecord } from './types';

/** A character base64 never holds. */
const NOT_BASE64 = /[^A-Za-z0-9+/=]/;

/**
 * Whether `s` is canonical standard base64 (what AWS sends), so decoding cannot silently drop bytes:
 * a length of four, only the alphabet, and `=` only as the last one or two characters. (A search
 * for a foreign character costs two thirds of matching the whole string.)
 */
export function isBase64(s: string): boolean {
  if (s.length % 4 !== 0 || NOT_BASE64.test(s)) return false;
  const pad = s.indexOf('=');
  return pad < 0 || pad === s.length - 1 || (pad === s.length - 2 && s.charCodeAt(s.length - 1) === 61);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

function checkPlacement(where: string, r: Record<string, unknown>, topic: string, partition: number): void {
  if (r.topic !== topic || r.partition !== partition) {
    throw new InvalidEventError(
      `${where} is ${String(r.topic)}-${String(r.partition)}, which does not match its key "${topic}-${partition}"`,
    );
  }
  if (!isInt(r.offset)) throw new InvalidEventError(`${where}.offset is not a non-negative integer`);
  if (typeof r.timestamp !== 'number') throw new InvalidEventError(`${where}.timestamp is not a number`);
  if (r.timestampType !== 'CREATE_TIME' && r.timestampType !== 'LOG_APPEND_TIME') {
    throw new InvalidEventError(
      `${where}.timestampType is ${JSON.stringify(r.timestampType)}, not CREATE_TIME or LOG_APPEND_TIME`,
    );
  }
}

function checkKeyAndValue(where: string, r: Record<string, unknown>): void {
  for (const field of ['key', 'value'] as const) {
    const v = r[field];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'string' || !isBase64(v)) throw new InvalidEventError(`${where}.${field} is not base64`);
  }
}

const isByteArray = (bytes: unknown) =>
  Array.isArray(bytes) && bytes.every((b) => Number.isInteger(b) && b >= -128 && b <= 255);

function checkHeaders(where: string, headers: unknown): void {
  if (headers === undefined) return;
  if (!Array.isArray(headers)) throw new InvalidEventError(`${where}.headers is not an array`);
  for (const h of headers) {
    if (!isObject(h)) throw new InvalidEventError(`${where}.headers has an entry that is not an object`);
    if (!Object.values(h).every(isByteArray))
      throw new InvalidEventError(`${where}.headers has a value that is not an array of bytes`);
  }
}

function checkRecord(where: string, r: unknown, topic: string, partition: number): asserts r is KafkaEventRecord {
  if (!isObject(r)) throw new InvalidEventError(`${where} is not an object`);
  checkPlacement(where, r, topic, partition);
  checkKeyAndValue(where, r);
  checkHeaders(where, r.headers);
}

/**
 * Validates the event's shape (both AWS sources) and returns it typed.
 * Throws {@link InvalidEventError} naming the first problem; nothing is written for such an event.
 */
export function parseEvent(input: unknown): KafkaEvent {
  if (!isObject(input)) throw new InvalidEventError('the event is not an object');
  const { eventSource, records } = input;
  if (eventSource !== 'aws:kafka' && eventSource !== 'SelfManagedKafka') {
    throw new InvalidEventError(
      `unknown eventSource ${JSON.stringify(eventSource)} (expected "aws:kafka" or "SelfManagedKafka")`,
    );
  }
  if (eventSource === 'aws:kafka' && typeof input.eventSourceArn !== 'string') {
    throw new InvalidEventError('an aws:kafka (MSK) event has no eventSourceArn');
  }
  if (!isObject(records)) throw new InvalidEventError('the event has no "records" object');
  for (const [key, list] of Object.entries(records)) {
    const m = /^(.+)-(\d+)$/.exec(key);
    if (!m) throw new InvalidEventError(`records key "${key}" is not "<topic>-<partition>"`);
    if (!Array.isArray(list)) throw new InvalidEventError(`records["${key}"] is not an array`);
    list.forEach((r, i) => checkRecord(`records["${key}"][${i}]`, r, m[1], Number(m[2])));
  }
  return input as unknown as KafkaEvent;
}

/** All records of the event, partition by partition, each partition in the order given. */
export function eventRecords(event: KafkaEvent): KafkaEventRecord[] {
  return Object.values(event.records).flat();
}
