/**
 * Avro values framed for a Confluent-compatible schema registry (issue 23): the schema is registered
 * under `<topic>-value` (TopicNameStrategy) and each value becomes Confluent's wire format, a zero
 * byte, the schema id as 4 bytes big-endian, then the Avro binary encoding. tools/ only: avsc never
 * reaches the Lambda bundle.
 */
import { readFileSync } from 'node:fs';
import type { Message } from 'kafkajs';
import { InputError } from '../cli/errors';
import { QuotesSinkError } from '../../lib/errors';

/** avsc's Type, as far as this module uses it. */
export interface AvroType {
  isValid(value: unknown, opts?: { errorHook?: (path: string[]) => void }): boolean;
  toBuffer(value: unknown): Buffer;
  fromBuffer(buf: Buffer): unknown;
}

/** The registry refused or could not be reached: names the URL and why. */
export class SchemaRegistryError extends QuotesSinkError {}

/** Confluent's magic byte, the first of every framed value. */
export const MAGIC_BYTE = 0;

/** The subject of a topic's values under Confluent's default TopicNameStrategy. */
export const valueSubject = (topic: string) => `${topic}-value`;

/** avsc, loaded only when a command asks for Avro. */
export function avroType(schema: unknown): AvroType {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const avro = require('avsc') as { Type: { forSchema(s: unknown): AvroType } };
  return avro.Type.forSchema(schema);
}

/** An .avsc file: its text (what is registered) and its type; a missing or invalid file is an InputError. */
export function readAvroSchema(file: string): { text: string; type: AvroType } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
    return { text, type: avroType(JSON.parse(text)) };
  } catch (e) {
    throw new InputError([`${file}: not an Avro schema (${(e as Error).message})`]);
  }
}

/** Registers `schema` (Avro text) under `subject`; returns the id the registry gives it (the same id again for the same schema). */
export async function registerSchema(registryUrl: string, subject: string, schema: string): Promise<number> {
  const url = `${registryUrl.replace(/\/+$/, '')}/subjects/${encodeURIComponent(subject)}/versions`;
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/vnd.schemaregistry.v1+json' },
      body: JSON.stringify({ schema }),
      signal: AbortSignal.timeout(15_000),
    });
  } catch (e) {
    throw new SchemaRegistryError(`POST ${url}: ${(e as Error).message}`, { cause: e, retriable: true });
  }
  const body = await res.text();
  if (!res.ok) throw new SchemaRegistryError(`POST ${url}: HTTP ${res.status} ${body.slice(0, 300)}`);
  const id = (JSON.parse(body) as { id?: unknown }).id;
  if (!Number.isInteger(id)) throw new SchemaRegistryError(`POST ${url}: no schema id in ${body.slice(0, 300)}`);
  return id as number;
}

/** Confluent's wire format: magic byte, 4-byte big-endian schema id, payload. */
export function confluentFrame(schemaId: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt8(MAGIC_BYTE, 0);
  header.writeUInt32BE(schemaId, 1);
  return Buffer.concat([header, payload]);
}

/** The schema id and payload of a Confluent-framed value, or undefined when it is not framed so. */
export function parseConfluentFrame(value: Buffer): { schemaId: number; payload: Buffer } | undefined {
  if (value.length < 5 || value[0] !== MAGIC_BYTE) return undefined;
  return { schemaId: value.readUInt32BE(1), payload: value.subarray(5) };
}

/** Why `value` does not fit `type`: the paths of the fields that do not. */
function misfit(type: AvroType, value: unknown): string {
  const paths: string[] = [];
  type.isValid(value, { errorHook: (p) => paths.push(p.join('.') || '(the record)') });
  return paths.length ? `does not fit the schema at ${paths.join(', ')}` : 'does not fit the schema';
}

/**
 * The messages with each JSON value re-encoded as framed Avro. A value that is not JSON or does
 * not fit the schema stops the run with an InputError naming the record (nothing framed wrongly is sent).
 */
export function* avroMessages(messages: Iterable<Message>, type: AvroType, schemaId: number): Generator<Message> {
  let n = 0;
  for (const m of messages) {
    n += 1;
    let value: unknown;
    try {
      value = JSON.parse(String(m.value));
    } catch {
      throw new InputError([`record ${n}: the value is not JSON, so it cannot be encoded as Avro`]);
    }
    if (!type.isValid(value)) throw new InputError([`record ${n}: ${misfit(type, value)}`]);
    yield { ...m, value: confluentFrame(schemaId, type.toBuffer(value)) };
  }
}
