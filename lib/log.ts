/** JSON-lines logger (pino). Connection strings and secrets are redacted wherever they appear. */
import pino from 'pino';
import { redactUrl } from './config';

const SECRET_PATHS = ['*.password', '*.POSTGRES_URL', '*.MONGO_URL', '*.KAFKA_SASL_PASSWORD', 'password', 'connectionString'];

/** Removes `user:password@` from any URL in a message. */
export const scrub = (s: string) => s.replace(/[a-z][a-z0-9+.-]*:\/\/[^\s/@:]+:[^\s@]*@/gi, (m) => redactUrl(m));

export function createLogger(level = process.env.LOG_LEVEL ?? 'info', name = 'quotes-sink', destination?: pino.DestinationStream) {
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
      serializers: {
        err: (e: Error) => ({ type: e?.name, message: scrub(String(e?.message ?? e)) }),
      },
    },
    destination,
  );
}

export type Logger = pino.Logger;
