/** JSON-lines logger (pino). Connection strings and secrets are redacted wherever they appear. */
import pino from 'pino';
import { redactUrl } from './config';

const SECRET_PATHS = [
  '*.password',
  '*.POSTGRES_URL',
  '*.MONGO_URL',
  '*.KAFKA_SASL_PASSWORD',
  'password',
  'connectionString',
];

/** Removes the password of any URL in a message. */
export const scrub = (s: string): string => redactUrl(s);

/** A serialised error: what the log line shows of it. */
export interface SerializedError {
  type: string;
  message: string;
  stack?: string;
  /** Any other own field of the error with a primitive value (store, code, retriable, …). */
  [field: string]: unknown;
}

const MAX_DEPTH = 5;
const SKIPPED = new Set(['name', 'message', 'stack', 'cause', 'errors']);

function ownFields(e: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(e)) {
    if (SKIPPED.has(k)) continue;
    if (typeof v === 'string') out[k] = scrub(v);
    else if (v === null || ['number', 'boolean'].includes(typeof v)) out[k] = v;
    else if (k === 'partitions' || k === 'chunk') out[k] = v;
  }
  return out;
}

/**
 * An error for the log: type, message and stack (scrubbed), its other own fields (a pg `code`,
 * `store`, `retriable`, partitions), its `cause` chain and the inner errors of an aggregate.
 */
export function serializeError(e: unknown, depth = 0): SerializedError {
  if (!(e instanceof Error)) return { type: typeof e, message: scrub(String(e)) };
  const out: SerializedError = { type: e.name, message: scrub(e.message), ...ownFields(e) };
  if (e.stack) out.stack = scrub(e.stack);
  if (depth >= MAX_DEPTH) return out;
  if (e.cause !== undefined) out.cause = serializeError(e.cause, depth + 1);
  const inner = (e as { errors?: unknown }).errors;
  if (Array.isArray(inner)) out.errors = inner.map((x) => serializeError(x, depth + 1));
  return out;
}

/** A logger at `level` (take it from the validated config), writing to stdout or `destination`. */
export function createLogger(level: pino.LevelWithSilent, name = 'quotes-sink', destination?: pino.DestinationStream) {
  return pino(
    {
      name,
      level,
      base: undefined,
      redact: { paths: SECRET_PATHS, censor: '***' },
      formatters: { level: (label) => ({ level: label }) },
      hooks: {
        logMethod(args, method) {
          method.apply(this, args.map((a) => (typeof a === 'string' ? scrub(a) : a)) as Parameters<typeof method>);
        },
      },
      serializers: { err: serializeError },
    },
    destination,
  );
}

export type Logger = pino.Logger;
