/**
 * Any JSON, one record per line (JSON Lines): `produce --topic T --file F.jsonl`. Every line is
 * checked before anything is sent; a record's value is its line exactly as written (only the line
 * end is dropped), and its key, if asked for, is found by a JSON Pointer (RFC 6901) into the value.
 */
import { readFileSync } from 'node:fs';
import type { Message } from 'kafkajs';
import { InputError } from '../cli/errors';
import { keyAt, pointerTokens } from './pointer';
import { QuoteSourceError } from './publish';

/** Whether `file` holds JSON Lines (by its extension, `.jsonl` or `.ndjson`) rather than one JSON array. */
export const isJsonLinesFile = (file: string): boolean => /\.(jsonl|ndjson)$/i.test(file);

export interface JsonLinesOptions {
  /** The key's JSON Pointer; left out, records have no key. */
  key?: string;
  /** The `source` header. */
  source: string;
}

/** A file's lines as they are, numbered from 1, with their line ends (`\n`, `\r\n`) dropped. */
function linesOf(text: string): { n: number; text: string }[] {
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  return body.split('\n').map((line, i) => ({ n: i + 1, text: line.endsWith('\r') ? line.slice(0, -1) : line }));
}

/** The key's JSON Pointer, as given and as tokens. */
interface KeySpec {
  pointer: string;
  tokens: string[];
}

/** What is wrong with one line, or its message. */
function lineMessage(line: string, key: KeySpec | undefined, headers: Message['headers']): Message | string {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (e) {
    return `not JSON (${(e as Error).message})`;
  }
  if (key === undefined) return { key: null, value: line, headers };
  const k = keyAt(value, key.tokens);
  if (k === undefined) return `no key: no string, number or boolean at ${JSON.stringify(key.pointer)}`;
  return { key: k, value: line, headers };
}

/** The text of `file`, or a {@link QuoteSourceError} naming it (missing, unreadable, not UTF-8). */
function readText(file: string): string {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw new QuoteSourceError(file, code === 'ENOENT' ? 'no such file' : (e as Error).message, { cause: e });
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (e) {
    throw new QuoteSourceError(file, 'not UTF-8 text (JSON Lines are UTF-8)', { cause: e });
  }
}

/**
 * The records of a JSON Lines file: one per line that is not blank, its value the line's text.
 * Every line that is not JSON (or has no key at `opts.key`) is reported, one problem each naming
 * `shown:LINE`, in one {@link InputError}; then nothing is returned, so nothing is sent.
 */
export function readJsonLines(file: string, opts: JsonLinesOptions, shown = file, readAt = new Date()): Message[] {
  const headers = { source: opts.source, 'fetched-at': readAt.toISOString() };
  const key = opts.key === undefined ? undefined : { pointer: opts.key, tokens: pointerTokens(opts.key) };
  const messages: Message[] = [];
  const problems: string[] = [];
  for (const line of linesOf(readText(file))) {
    if (line.text.trim() === '') continue;
    const m = lineMessage(line.text, key, headers);
    if (typeof m === 'string') problems.push(`${shown}:${line.n}: ${m}`);
    else messages.push(m);
  }
  if (problems.length > 0) throw new InputError(problems);
  return messages;
}
