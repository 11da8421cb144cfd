/** The NiFi flow as code: fetch or read a JSON array of quotes, split it, publish one record each. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CompressionTypes, Partitioners, type Kafka, type Message } from 'kafkajs';
import { PROJECT_ROOT } from '../config';
import { invalidValue, isInvalidIndex, prng, syntheticQuote } from './synthetic';

/** The public quotes API (GetHTTP's URL in the tutorial); `count` asks for several quotes at once. */
export const QUOTES_API_URL = 'https://thesimpsonsquoteapi.glitch.me/quotes?count=50';
export const SAMPLE_FILE = path.join(PROJECT_ROOT, 'data', 'sample-quotes.json');

/** SplitJson: the array's elements; a single object counts as an array of one. */
export function splitQuotes(json: unknown): unknown[] {
  if (Array.isArray(json)) return json;
  if (json && typeof json === 'object') return [json];
  throw new Error('expected a JSON array of quotes');
}

/** GetHTTP: the quotes at `url`. */
export async function fetchQuotes(url: string, timeoutMs = 15_000): Promise<unknown[]> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } });
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  return splitQuotes(await res.json());
}

export const readQuotes = (file: string) => splitQuotes(JSON.parse(readFileSync(file, 'utf8')));

export interface MessageOptions {
  /** Key each record by its character (the default), or leave keys out. */
  key: boolean;
  /** The `source` header. */
  source: string;
}

/** PublishKafka's records: value = the quote's JSON, key = its character, headers = source and fetch time. */
export function quoteMessages(quotes: unknown[], opts: MessageOptions, fetchedAt = new Date()): Message[] {
  return quotes.map((q) => {
    const character = q && typeof q === 'object' ? (q as { character?: unknown }).character : undefined;
    return {
      key: opts.key && typeof character === 'string' ? character : null,
      value: JSON.stringify(q),
      headers: { source: opts.source, 'fetched-at': fetchedAt.toISOString() },
    };
  });
}

/** `n` synthetic records from `seed`, of which floor(n × invalidRatio) are bad, spread evenly. */
export function* syntheticMessages(n: number, seed: number, invalidRatio: number, opts: MessageOptions): Generator<Message> {
  const rand = prng(seed);
  const fetchedAt = new Date().toISOString();
  let invalid = 0;
  for (let i = 0; i < n; i++) {
    const bad = isInvalidIndex(i, invalidRatio);
    const q = syntheticQuote(rand);
    yield {
      key: opts.key ? q.character : null,
      value: bad ? invalidValue(invalid++, rand) : JSON.stringify(q),
      headers: { source: opts.source, 'fetched-at': fetchedAt, ...(bad ? { 'synthetic-invalid': 'true' } : {}) },
    };
  }
}

/**
 * Publishes messages in chunks with acks=all and idempotence (no duplicates from producer retries).
 * Returns how many were acknowledged.
 */
export async function publish(kafka: Kafka, topic: string, messages: Iterable<Message>, onProgress?: (sent: number) => void, chunk = 2_000): Promise<number> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  let sent = 0;
  try {
    let buf: Message[] = [];
    const flush = async () => {
      if (buf.length === 0) return;
      await producer.send({ topic, acks: -1, compression: CompressionTypes.None, messages: buf });
      sent += buf.length;
      buf = [];
      onProgress?.(sent);
    };
    for (const m of messages) {
      buf.push(m);
      if (buf.length >= chunk) await flush();
    }
    await flush();
  } finally {
    await producer.disconnect();
  }
  return sent;
}
