/**
 * The one place configuration comes from: environment variables, validated once.
 *
 * Defaults equal the docker-compose stack (test/unit/compose.test.ts fails if they drift), so a
 * developer with Docker needs no configuration at all. The stack command writes the addresses it
 * actually uses to `.stack/env`, which {@link loadStackEnv} folds into the environment, below the
 * environment itself and `.env`.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { QuotesSinkError } from './errors';
import { MIN_IDENTITY_KEY_LENGTH } from './event/identity';
import { TOPIC_NAME } from './event/coordinates';

/** Development defaults, shared with docker-compose.yml and .env.example. Not secrets: local only. */
export const DEFAULTS = {
  kafka: { host: '127.0.0.1', port: 9092, topic: 'quotes', partitions: 3, groupId: 'quotes-sink-local' },
  postgres: { host: '127.0.0.1', port: 5432, user: 'mchi', password: 'mchi1234', database: 'simpsons' },
  mongo: {
    host: '127.0.0.1',
    port: 27017,
    user: 'mchi',
    password: 'mchi1234',
    database: 'simpson_db',
    collection: 'quotes',
  },
  ui: { kafkaUi: 8080, pgadmin: 5050, mongoExpress: 8081 },
} as const;

export const DEFAULT_KAFKA_BROKERS = `${DEFAULTS.kafka.host}:${DEFAULTS.kafka.port}`;
export const DEFAULT_POSTGRES_URL =
  `postgres://${DEFAULTS.postgres.user}:${DEFAULTS.postgres.password}` +
  `@${DEFAULTS.postgres.host}:${DEFAULTS.postgres.port}/${DEFAULTS.postgres.database}`;
export const DEFAULT_MONGO_URL =
  `mongodb://${DEFAULTS.mongo.user}:${DEFAULTS.mongo.password}` +
  `@${DEFAULTS.mongo.host}:${DEFAULTS.mongo.port}/?authSource=admin`;

/** Project root: the folder holding package.json (this file lives in lib/). */
export const PROJECT_ROOT = path.resolve(__dirname, '..');
/**
 * The stack's folder: `.stack/`, or QUOTES_SINK_STACK_DIR (a second stack state beside the first,
 * e.g. pointing `up` at services you run elsewhere without touching the native stack's state).
 */
export const STACK_DIR = path.resolve(PROJECT_ROOT, process.env.QUOTES_SINK_STACK_DIR || '.stack');
/** Where the stack command writes the effective connection settings. */
export const STACK_ENV_FILE = path.join(STACK_DIR, 'env');
/** Your own local settings (not committed; see .env.example). */
export const DOTENV_FILE = path.join(PROJECT_ROOT, '.env');
/** The settings files {@link loadStackEnv} reads, the one that wins first. */
export const ENV_FILES: readonly string[] = [DOTENV_FILE, STACK_ENV_FILE];

/** Parses `KEY=value` lines (no quoting rules beyond trimming one pair of quotes). */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    let value = line.slice(eq + 1).trim();
    if (/^(['"]).*\1$/.test(value)) value = value.slice(1, -1);
    out[line.slice(0, eq).trim()] = value;
  }
  return out;
}

/** The settings in `file`, or none when it does not exist. */
export function readEnvFile(file: string): Record<string, string> {
  return existsSync(file) ? parseEnvFile(readFileSync(file, 'utf8')) : {};
}

/**
 * Fills `env` from the settings files. One precedence everywhere:
 * command-line flags > environment > `.env` > the stack's env file (`.stack/env`) > defaults.
 *
 * `files` are read in decreasing precedence (default {@link ENV_FILES}: `.env`, then the stack's
 * env file), and a file never overrides a variable that is already set (non-empty) in `env` or
 * was filled by an earlier file. Flags are applied by each CLI over the loaded config, and the
 * defaults by {@link loadConfig}. Returns the keys it filled in. Deployed Lambdas have neither file
 * and are unaffected.
 */
export function loadStackEnv(env: NodeJS.ProcessEnv = process.env, files: readonly string[] = ENV_FILES): string[] {
  const filled: string[] = [];
  for (const file of files) {
    for (const [k, v] of Object.entries(readEnvFile(file))) {
      if (env[k] === undefined || env[k] === '') {
        env[k] = v;
        filled.push(k);
      }
    }
  }
  return filled;
}

/** Thrown when configuration is missing or invalid; lists every problem at once. */
export class ConfigError extends QuotesSinkError {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
}

/** Schema and table names config accepts (Postgres truncates identifiers at 63 bytes). */
export const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;
const identifier = (what: string) =>
  z.string().regex(IDENTIFIER, `${what} must match ${IDENTIFIER} (lower-case SQL identifier)`);
/**
 * One of `values`. zod's own message echoes the value given, which may be a secret pasted into the
 * wrong variable; this one lists only what is allowed.
 */
const oneOf = <V extends string>(values: readonly [V, ...V[]]) =>
  z.enum(values as [V, ...V[]], { errorMap: () => ({ message: `must be one of ${values.join(', ')}` }) });
const bool = oneOf(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes');
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/**
 * The built-in stores, in the order the sink writes and reports them: what SINK_STORES may name and
 * lib/stores.ts opens. Everything after that (the summary, metrics, status) keys a store by the name
 * the store itself gives.
 */
export const STORE_NAMES = ['postgres', 'mongo'] as const;
export type BuiltInStore = (typeof STORE_NAMES)[number];
const isBuiltInStore = (n: string): n is BuiltInStore => (STORE_NAMES as readonly string[]).includes(n);

const schema = z.object({
  KAFKA_BROKERS: z.string().min(1).default(DEFAULT_KAFKA_BROKERS),
  KAFKA_TOPIC: z
    .string()
    .regex(TOPIC_NAME, 'KAFKA_TOPIC must be a legal Kafka topic name')
    .default(DEFAULTS.kafka.topic),
  KAFKA_GROUP_ID: z.string().min(1).default(DEFAULTS.kafka.groupId),
  KAFKA_CLIENT_ID: z.string().min(1).default('quotes-sink'),
  KAFKA_SSL: bool.default('false'),
  KAFKA_SSL_CA_FILE: z.string().optional(),
  KAFKA_SASL_MECHANISM: oneOf(['plain', 'scram-sha-256', 'scram-sha-512']).optional(),
  KAFKA_SASL_USERNAME: z.string().optional(),
  KAFKA_SASL_PASSWORD: z.string().optional(),

  POSTGRES_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'POSTGRES_URL must start with postgres://')
    .default(DEFAULT_POSTGRES_URL),
  POSTGRES_SCHEMA: identifier('POSTGRES_SCHEMA').default('public'),
  POSTGRES_QUOTES_TABLE: identifier('POSTGRES_QUOTES_TABLE').default('quotes'),
  POSTGRES_DEAD_LETTER_TABLE: identifier('POSTGRES_DEAD_LETTER_TABLE').default('dead_letters'),
  POSTGRES_POOL_MAX: int(1, 100).default(2),
  POSTGRES_CONNECT_TIMEOUT_MS: int(100, 120_000).default(5_000),
  POSTGRES_QUERY_TIMEOUT_MS: int(100, 900_000).default(30_000),
  POSTGRES_SSLMODE: oneOf(['disable', 'require', 'verify-ca', 'verify-full']).default('disable'),
  POSTGRES_SSL_CA_FILE: z.string().optional(),

  MONGO_URL: z
    .string()
    .regex(/^mongodb(\+srv)?:\/\//, 'MONGO_URL must start with mongodb://')
    .default(DEFAULT_MONGO_URL),
  MONGO_DATABASE: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,63}$/, 'MONGO_DATABASE has characters MongoDB forbids')
    .default(DEFAULTS.mongo.database),
  MONGO_COLLECTION: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,120}$/, 'MONGO_COLLECTION has characters MongoDB forbids')
    .default(DEFAULTS.mongo.collection),
  MONGO_TIMEOUT_MS: int(100, 900_000).default(30_000),
  MONGO_POOL_MAX: int(1, 100).default(4),
  MONGO_TLS: bool.default('false'),
  MONGO_TLS_CA_FILE: z.string().optional(),

  MONGO_DEAD_LETTER_COLLECTION: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,120}$/, 'MONGO_DEAD_LETTER_COLLECTION has characters MongoDB forbids')
    .default('dead_letters'),

  /**
   * The record stores, comma-separated: `postgres,mongo` (default), `postgres` or `mongo`. Only the
   * stores named are opened, asked and written to.
   */
  SINK_STORES: z
    .string()
    .default('postgres,mongo')
    .transform((s, ctx) => {
      const names = [...new Set(s.split(',').map((x) => x.trim()))];
      if (names.length === 0 || !names.every(isBuiltInStore)) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'must be postgres,mongo, postgres or mongo' });
        return z.NEVER;
      }
      return STORE_NAMES.filter((n) => names.includes(n));
    }),
  /**
   * Where dead letters go: `postgres` (the table) or `mongo` (the collection
   * MONGO_DEAD_LETTER_COLLECTION). Default: Postgres when SINK_STORES has it, else MongoDB.
   */
  SINK_DEAD_LETTERS: oneOf(STORE_NAMES).optional(),

  TOMBSTONES: oneOf(['skip', 'delete']).default('skip'),
  /** Records per write inside a batch (every store writes a chunk at once, in slices of 250 or more). */
  SINK_WRITE_CHUNK: int(1, 10_000).default(500),
  /**
   * Whether the event source mapping reports batch item failures (ReportBatchItemFailures): then a
   * batch failing after some chunks were written answers `batchItemFailures` instead of throwing.
   * Set by the deploy plugin from the mapping itself; never set it by hand for a mapping without it.
   */
  SINK_PARTIAL_BATCH_RESPONSE: bool.default('false'),
  /**
   * The key the project's re-senders (dead-letter replay, redrive) sign carried identities with,
   * and the sink checks them with (lib/event/identity.ts). Unset: no re-sent record keeps the
   * identity it carries (it is a `forged` dead letter), and the re-senders refuse to run. From
   * Secrets Manager when deployed; `npm run stack -- up` writes one to `.stack/env`.
   */
  SINK_IDENTITY_KEY: z
    .string()
    .min(MIN_IDENTITY_KEY_LENGTH, `SINK_IDENTITY_KEY must be at least ${MIN_IDENTITY_KEY_LENGTH} characters`)
    .optional(),
  /**
   * The Kafka cluster's id (its own, as `kafka-cluster cluster-id` or a metadata request gives it):
   * part of every record's identity instead of how the event names the brokers. The emulator and
   * the redrive read it from the cluster when it is unset; set it per deployment (the deploy
   * param `clusterId`).
   */
  SINK_CLUSTER_ID: z
    .string()
    .regex(/^[A-Za-z0-9_.:/-]{1,200}$/, 'SINK_CLUSTER_ID must be 1-200 letters, digits or _.:/-')
    .optional(),
  /**
   * The sink file (its routes), in development and tests: a path, relative to the project root
   * unless absolute. Default: sink.yaml at the root. The build compiles the file it names into the
   * bundle, so a deployed function never reads it.
   */
  SINK_FILE: z.string().min(1).optional(),
  LOG_LEVEL: oneOf(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
});

/** The validated configuration. */
export type Config = z.infer<typeof schema>;

/** The default sink file: sink.yaml at the root. */
export const DEFAULT_SINK_FILE = path.join(PROJECT_ROOT, 'sink.yaml');

/** The sink file SINK_FILE names (relative to the project root), or the default one. */
export const sinkFilePath = (c: Pick<Config, 'SINK_FILE'>): string =>
  c.SINK_FILE ? path.resolve(PROJECT_ROOT, c.SINK_FILE) : DEFAULT_SINK_FILE;

/** Where dead letters go: SINK_DEAD_LETTERS, or Postgres when it is a record store, else MongoDB. */
export const deadLetterStore = (c: Pick<Config, 'SINK_STORES' | 'SINK_DEAD_LETTERS'>): BuiltInStore =>
  c.SINK_DEAD_LETTERS ?? (c.SINK_STORES.includes('postgres') ? 'postgres' : 'mongo');

/** The databases the sink uses: its record stores and where dead letters go, in {@link STORE_NAMES} order. */
export const storesInUse = (c: Pick<Config, 'SINK_STORES' | 'SINK_DEAD_LETTERS'>): BuiltInStore[] =>
  STORE_NAMES.filter((n) => c.SINK_STORES.includes(n) || deadLetterStore(c) === n);

/**
 * Validates `env` once and returns a typed config; throws {@link ConfigError} naming every bad value.
 * Values are never echoed back (they may be secrets): only the variable and what is wrong with it.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const picked: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const v = env[key];
    if (v !== undefined && v !== '') picked[key] = v;
  }
  const parsed = schema.safeParse(picked);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  const c = parsed.data;
  const problems: string[] = [];
  if (c.KAFKA_SASL_MECHANISM && (!c.KAFKA_SASL_USERNAME || !c.KAFKA_SASL_PASSWORD)) {
    problems.push('KAFKA_SASL_MECHANISM is set: KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD are required');
  }
  if (problems.length) throw new ConfigError(problems);
  return c;
}

/** Brokers as a list, for kafkajs. */
export function brokerList(brokers: string): string[] {
  return brokers
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean);
}

/**
 * `scheme://user:password@` anywhere in a text. The password runs to the last `@` before white
 * space, since pg accepts unencoded `@` and `/` in it: over-redacting a host is safe, leaking part
 * of a password is not. The look-behind lets a match start only where a scheme can, which keeps
 * the scan linear on long strings without URLs.
 */
const URL_CREDENTIALS = /(?<![A-Za-z0-9+.-])([A-Za-z][A-Za-z0-9+.-]*:\/\/[^\s:/@]*:)\S*@/g;

/** Replaces the password of every connection URL in `text` with `***`, so it can be logged. */
export function redactUrl(text: string): string {
  return text.replace(URL_CREDENTIALS, '$1***@');
}
