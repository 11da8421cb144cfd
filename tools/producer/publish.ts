/** The NiFi flow as code: fetch or read a JSON array of quotes, split it, publish one record each. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CompressionTypes, Partitioners, type Kafka, type Message } from 'kafkajs';
import { PROJECT_ROOT, redactUrl } from '../../lib/config';
import { QuotesSinkError } from '../../lib/errors';
import { keyAt, pointerTokens } from './pointer';
import { invalidValue, isInvalidIndex, prng, syntheticQuote } from './synthetic';

/**
 * The tutorial's public quotes API (GetHTTP's URL); `count` asks for several quotes at once. Its
 * host stopped serving in 2025, so `--api` is kept for the record and the sample file is the
 * default source.
 */
export const QUOTES_API_URL = 'https://thesimpsonsquoteapi.glitch.me/quotes?count=50';
export const SAMPLE_FILE = path.join(PROJECT_ROOT, 'data', 'sample-quotes.json');

/** Quotes could not be fetched or read: names the URL or file, and why. */
export class QuoteSourceError extends QuotesSinkError {
  constructor(
    /** The URL (password redacted) or file. */
    readonly source: string,
    readonly reason: string,
    options: { cause?: unknown; retriable?: boolean } = {},
  ) {
    super(`${source}: ${reason}`, options);
  }
}

/** SplitJson: the array's elements; a single object counts as an array of one. */
export function splitQuotes(json: unknown, source = 'input'): unknown[] {
  if (Array.isArray(json)) return json;
  if (json && typeof json === 'object') return [json];
  throw new QuoteSourceError(source, 'expected a JSON array of quotes');
}

/** Why fetch failed, from its cause (fetch itself only says "fetch failed"). */
function fetchFailure(e: unknown, timeoutMs: number): string {
  if (e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError'))
    return `no answer within ${timeoutMs / 1000}s`;
  const cause = e instanceof Error ? (e.cause as { code?: string; message?: string } | undefined) : undefined;
  const detail = cause?.message || cause?.code;
  return detail ? `request failed: ${detail}` : `request failed: ${e instanceof Error ? e.message : String(e)}`;
}

/** The body as JSON; an HTML page or other text is a {@link QuoteSourceError} saying what came back. */
function parseBody(shown: string, body: string, contentType: string): unknown {
  if (/html/i.test(contentType) || /^\s*</.test(body)) {
    throw new QuoteSourceError(
      shown,
      `returned an HTML page (${contentType || 'no content type'}), not JSON quotes: is the URL right?`,
    );
  }
  try {
    return JSON.parse(body);
  } catch (e) {
    throw new QuoteSourceError(shown, `the response is not JSON (${(e as Error).message})`, { cause: e });
  }
}

/** GetHTTP: the quotes at `url`. Every failure is a {@link QuoteSourceError} naming the URL and why. */
export async function fetchQuotes(url: string, timeoutMs = 15_000): Promise<unknown[]> {
  const shown = `GET ${redactUrl(url)}`;
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } });
  } catch (e) {
    throw new QuoteSourceError(shown, fetchFailure(e, timeoutMs), { cause: e, retriable: true });
  }
  if (!res.ok)
    throw new QuoteSourceError(shown, `HTTP ${res.status} ${res.statusText}`.trim(), { retriable: res.status >= 500 });
  const body = await res.text();
  return splitQuotes(parseBody(shown, body, res.headers.get('content-type') ?? ''), shown);
}

/** The quotes in a JSON file; a missing or malformed file is a {@link QuoteSourceError} naming it. */
export function readQuotes(file: string): unknown[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw new QuoteSourceError(file, code === 'ENOENT' ? 'no such file' : (e as Error).message, { cause: e });
  }
  try {
    return splitQuotes(JSON.parse(text), file);
  } catch (e) {
    if (e instanceof QuoteSourceError) throw e;
    throw new QuoteSourceError(file, `not JSON (${(e as Error).message})`, { cause: e });
  }
}

export interface MessageOptions {
  /** Key each record (the default), or leave keys out. */
  key: boolean;
  /**
   * Where the key is in each value, a JSON Pointer (e.g. `/id`); left out, the quote's character.
   * A value with no string, number or boolean there gets no key.
   */
  keyPointer?: string;
  /** The `source` header. */
  source: string;
}

/** The key of one quote: its character (a string), or what `tokens` points at; null if none. */
function quoteKey(q: unknown, tokens: string[] | undefined): string | null {
  if (tokens) return keyAt(q, tokens) ?? null;
  const character = q && typeof q === 'object' ? (q as { character?: unknown }).character : undefined;
  return typeof character === 'string' ? character : null;
}

/** PublishKafka's records: value = the quote's JSON, key = its character, headers = source and fetch time. */
export function quoteMessages(quotes: unknown[], opts: MessageOptions, fetchedAt = new Date()): Message[] {
  const tokens = opts.keyPointer === undefined ? undefined : pointerTokens(opts.keyPointer);
  return quotes.map((q) => ({
    key: opts.key ? quoteKey(q, tokens) : null,
    value: JSON.stringify(q),
    headers: { source: opts.source, 'fetched-at': fetchedAt.toISOString() },
  }));
}

/** `n` synthetic records from `seed`, of which floor(n × invalidRatio) are bad, spread evenly. */
export function* syntheticMessages(
  n: number,
  seed: number,
  invalidRatio: number,
  opts: MessageOptions,
): Generator<Message> {
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
export async function publish(
  kafka: Kafka,
  topic: string,
  messages: Iterable<Message>,
  onProgress?: (sent: number) => void,
  chunk = 2_000,
): Promise<number> {
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
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
