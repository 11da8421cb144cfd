/**
 * `npm run produce -- [--file PATH | --url URL | --api | --synthetic N] [options]`: the tutorial's
 * NiFi flow (GetHTTP → SplitJson → PublishKafka) as a command. With no source it publishes the
 * sample quotes shipped in data/, so it works offline. `--help` lists the options.
 */
import path from 'node:path';
import type { Kafka, Message } from 'kafkajs';
import { z } from 'zod';
import { PROJECT_ROOT, loadConfig, loadStackEnv, redactUrl, type Config } from '../lib/config';
import { createKafka } from '../tools/kafka';
import {
  defineCommand,
  enumFlag,
  exclusive,
  intFlag,
  numberFlag,
  parseCommand,
  requires,
  topicFlag,
} from '../tools/cli/args';
import { printBanner } from '../tools/cli/banner';
import { MissingTopicError, UsageError } from '../tools/cli/errors';
import { runMain } from '../tools/cli/main';
import { routeFlag } from '../tools/cli/route';
import { missingTopics } from '../tools/cli/reachable';
import { stopSignal } from '../tools/cli/signals';
import { createTopic } from '../tools/cli/topics';
import {
  QUOTES_API_URL,
  SAMPLE_FILE,
  fetchQuotes,
  publish,
  quoteMessages,
  readQuotes,
  syntheticMessages,
} from '../tools/producer/publish';
import { readJsonLines, isJsonLinesFile } from '../tools/producer/lines';
import { JSON_POINTER } from '../tools/producer/pointer';
import { perSecond, runRounds, type RoundResult } from '../tools/producer/rounds';
import { progressBar } from '../tools/cli/progress';
import { avroMessages, readAvroSchema, registerSchema, valueSubject, type AvroType } from '../tools/producer/avro';

export const PRODUCE = defineCommand({
  command: 'npm run produce --',
  summary: [
    'Publishes quotes to Kafka, one record per quote (key = character, headers source and fetched-at,',
    'acks=all, idempotent producer). With no source: the sample file data/sample-quotes.json.',
    'A .jsonl (or .ndjson) file is any JSON, one record per line, for any topic: --topic T --file F.jsonl.',
  ].join('\n'),
  flags: {
    file: {
      type: 'string',
      value: 'PATH',
      help: 'a JSON array of quotes (default: the sample file), or .jsonl/.ndjson: any JSON, one record a line',
    },
    url: { type: 'string', value: 'URL', help: 'fetch a JSON array of quotes from URL' },
    api: {
      type: 'boolean',
      help: `fetch from the tutorial's quotes API (${new URL(QUOTES_API_URL).host}; gone, see below)`,
    },
    synthetic: { type: 'string', value: 'N', help: 'N generated quotes instead' },
    seed: { type: 'string', value: 'S', help: 'seed of --synthetic (default 42; round k of --every uses S+k-1)' },
    'invalid-ratio': { type: 'string', value: 'R', help: 'share of bad records in --synthetic, 0 to 1 (default 0)' },
    topic: { type: 'string', value: 'T', help: 'topic (default KAFKA_TOPIC, "quotes")' },
    route: { type: 'string', value: 'NAME', help: 'the topic of this route of the sink file (SINK_FILE), e.g. orders' },
    key: {
      type: 'string',
      value: 'POINTER',
      help: 'key = the value at this JSON Pointer in each record, e.g. /id (default: /character; none for .jsonl)',
    },
    'no-key': { type: 'boolean', help: 'publish without keys (default: key = character)' },
    every: { type: 'string', value: 'SECONDS', help: 'publish again every SECONDS (start to start) until Ctrl-C' },
    'create-topic': { type: 'boolean', help: 'create the topic if it does not exist' },
    partitions: { type: 'string', value: 'N', help: 'partitions of a topic --create-topic creates (default 3)' },
    format: {
      type: 'string',
      value: 'json|avro',
      help: 'json (default): each value as is; avro: encoded with --schema, framed for the schema registry',
    },
    schema: { type: 'string', value: 'FILE.avsc', help: 'the Avro schema of --format avro (e.g. schemas/quotes.avsc)' },
    'schema-registry': {
      type: 'string',
      value: 'URL',
      help: "a Confluent-compatible registry's API (default SCHEMA_REGISTRY_URL, which `stack up --registry` writes)",
    },
  },
  schema: z
    .object({
      file: z.string().min(1).optional(),
      url: z
        .string()
        .refine((u) => /^https?:\/\//i.test(u) && URL.canParse(u), 'takes an http(s) URL')
        .optional(),
      api: z.boolean().optional(),
      synthetic: intFlag(0, 100_000_000).optional(),
      seed: intFlag(0, 2 ** 32 - 1).optional(),
      'invalid-ratio': numberFlag(0, 1).optional(),
      topic: topicFlag().optional(),
      route: z.string().min(1).optional(),
      key: z.string().regex(JSON_POINTER, 'takes a JSON Pointer: "" or /-separated tokens, e.g. /id').optional(),
      'no-key': z.boolean().optional(),
      every: numberFlag(0, 86_400, true).optional(),
      'create-topic': z.boolean().optional(),
      partitions: intFlag(1, 1_000).optional(),
      format: enumFlag(['json', 'avro']).default('json'),
      schema: z.string().min(1).optional(),
      'schema-registry': z
        .string()
        .refine((u) => /^https?:\/\//i.test(u) && URL.canParse(u), 'takes an http(s) URL')
        .optional(),
    })
    .strict()
    .superRefine(avroNeedsSchema)
    .superRefine(exclusive('synthetic', 'file', 'url', 'api'))
    .superRefine(exclusive('topic', 'route'))
    .superRefine(exclusive('key', 'no-key', 'synthetic'))
    .superRefine(requires('invalid-ratio', 'synthetic'))
    .superRefine(requires('seed', 'synthetic'))
    .superRefine(requires('partitions', 'create-topic')),
  notes: [
    [
      `The tutorial's quotes API (${QUOTES_API_URL}) stopped serving in 2025:`,
      '--api is kept for the record. The shipped sample file is the offline default; --url takes any',
      'URL serving a JSON array (or one object) of quotes.',
    ].join('\n'),
    [
      'A .jsonl file is checked whole before anything is sent: a line that is not JSON (or, with --key, has no',
      'string, number or boolean there) is reported as FILE:LINE, every one, and nothing is sent (exit 2).',
      "Each record's value is its line exactly as written; blank lines are skipped. With a JSON array (quotes),",
      'a record with nothing at --key gets no key, as one without a character does by default.',
    ].join('\n'),
    [
      'The topic must exist (Kafka here does not create topics on use): --create-topic, or',
      '`npm run topics -- create NAME`. Environment: KAFKA_BROKERS, KAFKA_TOPIC; see the README.',
    ].join('\n'),
    [
      '--format avro registers --schema under <topic>-value (TopicNameStrategy) and sends each JSON value',
      "Avro-encoded in Confluent's wire format: byte 0, the schema id (4 bytes, big-endian), the Avro binary.",
      'A value that does not fit the schema stops the run at that record (exit 2); fields the schema lacks',
      'are dropped.',
    ].join('\n'),
  ],
});

/** --schema goes with --format avro, and --format avro needs it. */
function avroNeedsSchema(v: { format?: string; schema?: string; 'schema-registry'?: string }, ctx: z.RefinementCtx) {
  const avro = v.format === 'avro';
  const issue = (path: string, message: string) =>
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: [path], message, params: { whole: true } });
  if (avro && v.schema === undefined) issue('format', '--format avro needs --schema FILE.avsc');
  if (!avro && v.schema !== undefined) issue('schema', '--schema only applies with --format avro');
  if (!avro && v['schema-registry'] !== undefined)
    issue('schema-registry', '--schema-registry only applies with --format avro');
}

type Options = z.infer<typeof PRODUCE.schema>;
const say = (m: string) => process.stderr.write(`[produce] ${m}\n`);

/** Where the quotes of a round come from. */
type Source =
  | { kind: 'synthetic'; n: number }
  | { kind: 'url'; url: string }
  | { kind: 'file'; file: string }
  | { kind: 'lines'; file: string };

function sourceOf(o: Options): Source {
  if (o.synthetic !== undefined) return { kind: 'synthetic', n: o.synthetic };
  const url = o.url ?? (o.api ? QUOTES_API_URL : undefined);
  if (url) return { kind: 'url', url };
  const file = path.resolve(o.file ?? SAMPLE_FILE);
  return isJsonLinesFile(file) ? { kind: 'lines', file } : { kind: 'file', file };
}

/** The source as a header value and in messages: the file relative to the project when inside it. */
function describe(s: Source): string {
  if (s.kind === 'synthetic') return 'synthetic';
  if (s.kind === 'url') return redactUrl(s.url);
  const rel = path.relative(PROJECT_ROOT, s.file);
  return rel.startsWith('..') ? s.file : rel;
}

/** Checks the brokers and the topic; creates it with --create-topic, else says how. */
async function ensureTopic(c: Config, kafka: Kafka, topic: string, o: Options): Promise<void> {
  if ((await missingTopics(c, [topic])).length === 0) return;
  const how = `run produce with --create-topic [--partitions N], or \`npm run topics -- create ${topic}\``;
  if (!o['create-topic']) throw new MissingTopicError(topic, c.KAFKA_BROKERS, how);
  const admin = kafka.admin();
  await admin.connect();
  try {
    await createTopic(admin, topic, o.partitions ?? 3);
    say(`created topic ${topic} (${o.partitions ?? 3} partitions)`);
  } finally {
    await admin.disconnect();
  }
}

/** What a round sends: its messages, how many, and how its line describes them. */
interface Batch {
  messages: Iterable<Message>;
  count: number;
  /** What the round's line says after the topic, given how many were sent. */
  what: (sent: number) => string;
}

/** The records of a JSON Lines file (every line checked first: a bad one is an InputError, exit 2). */
function linesBatch(file: string, o: Options, label: string): Batch {
  const messages = readJsonLines(file, { key: o['no-key'] ? undefined : o.key, source: label }, label);
  return { messages, count: messages.length, what: () => `from ${label}` };
}

/** A round's records, generated, fetched or read. */
async function batchOf(s: Source, o: Options, round: number): Promise<Batch> {
  const label = describe(s);
  const opts = { key: !o['no-key'], keyPointer: o.key, source: label };
  if (s.kind === 'lines') return linesBatch(s.file, o, label);
  if (s.kind === 'synthetic') {
    const seed = (o.seed ?? 42) + round - 1;
    const invalid = Math.floor(s.n * (o['invalid-ratio'] ?? 0));
    const messages = syntheticMessages(s.n, seed, o['invalid-ratio'] ?? 0, opts);
    return { messages, count: s.n, what: (sent) => `(${sent - invalid} valid, ${invalid} invalid, seed ${seed})` };
  }
  const quotes = s.kind === 'url' ? await fetchQuotes(s.url) : readQuotes(s.file);
  return { messages: quoteMessages(quotes, opts), count: quotes.length, what: () => `from ${label}` };
}

/** How values are encoded: as they are, or as Avro framed with a registered schema's id. */
type Encoding = { format: 'json' } | { format: 'avro'; type: AvroType; schemaId: number };

/** --format avro: registers the schema under the topic's value subject; says which id it got. */
async function encodingOf(o: Options, topic: string): Promise<Encoding> {
  if (o.format !== 'avro' || o.schema === undefined) return { format: 'json' };
  const { text, type } = readAvroSchema(path.resolve(o.schema));
  const registry = o['schema-registry'] ?? process.env.SCHEMA_REGISTRY_URL;
  if (!registry) {
    throw new UsageError('--format avro needs a registry: `npm run stack -- up --registry`, or --schema-registry URL');
  }
  const subject = valueSubject(topic);
  const schemaId = await registerSchema(registry, subject, text);
  say(`schema ${o.schema} registered as ${subject}, id ${schemaId} (${redactUrl(registry)})`);
  return { format: 'avro', type, schemaId };
}

/** One round: fetch or read (or generate), split, publish; returns what it sent and how long it took. */
async function publishRound(
  kafka: Kafka,
  topic: string,
  s: Source,
  o: Options,
  round: number,
  encoding: Encoding,
): Promise<RoundResult> {
  const t0 = Date.now();
  const batch = await batchOf(s, o, round);
  const bar = progressBar(batch.count, 'records');
  const messages =
    encoding.format === 'avro' ? avroMessages(batch.messages, encoding.type, encoding.schemaId) : batch.messages;
  const sent = await publish(kafka, topic, messages, bar.update);
  bar.done();
  return report(round, sent, topic, t0, batch.what(sent));
}

/** The round's line: its own records, time and rate (not the run's totals). */
function report(round: number, sent: number, topic: string, t0: number, what: string): RoundResult {
  const ms = Date.now() - t0;
  const prefix = round > 1 ? `round ${round}: ` : '';
  console.log(
    `${prefix}produced ${sent} records to ${topic} ${what} in ${(ms / 1000).toFixed(1)}s (${perSecond(sent, ms)} records/s)`,
  );
  return { sent, ms };
}

async function main(argv: string[]): Promise<number> {
  const o = parseCommand(PRODUCE, argv);
  loadStackEnv();
  const config = loadConfig();
  const topic = o.topic ?? (o.route ? routeFlag(config, o.route).topic : config.KAFKA_TOPIC);
  const source = sourceOf(o);
  // A missing or malformed file (every bad line of a .jsonl) is reported before anything connects.
  if (source.kind === 'file') readQuotes(source.file);
  if (source.kind === 'lines') linesBatch(source.file, o, describe(source));
  printBanner('produce', config, { topic });
  const kafka = createKafka(config, 'quotes-sink-producer');
  await ensureTopic(config, kafka, topic, o);
  const encoding = await encodingOf(o, topic);
  const everyMs = o.every === undefined ? undefined : o.every * 1000;
  // One round keeps Node's Ctrl-C (stop at once); a schedule finishes its round, then stops.
  const signal = everyMs === undefined ? new AbortController().signal : stopSignal(say);
  const rounds = await runRounds((n) => publishRound(kafka, topic, source, o, n, encoding), {
    everyMs,
    signal,
    onError: (e, n) => say(`round ${n} failed, next in ${o.every}s: ${e instanceof Error ? e.message : String(e)}`),
  });
  if (everyMs !== undefined) say(`stopped after ${rounds} round(s)`);
  return 0;
}

runMain('produce', main);
