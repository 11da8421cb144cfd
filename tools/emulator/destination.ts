/**
 * The on-failure destination, locally: what the mapping sends once a batch used its retries or its
 * records got older than the maximum record age. Same documents as AWS:
 * - a Kafka topic (`kafka://topic`): one message per failed record, keyed by the record's key, whose
 *   value is the invocation record with that one record as payload
 *   (https://docs.aws.amazon.com/lambda/latest/dg/kafka-on-failure-destination.html);
 * - S3, here a folder: one JSON object per failed batch, the invocation record with the whole event
 *   as payload (https://docs.aws.amazon.com/lambda/latest/dg/kafka-on-failure.html).
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigResourceTypes, type Admin, type Kafka, type Message, type Producer } from 'kafkajs';
import { destinationMaxMessageBytes, KAFKA_DEFAULT_MAX_MESSAGE_BYTES } from '../deploy/mapping-rules';
import { QuotesSinkError } from '../../lib/errors';
import { buildEvent, type EventShape } from './event';
import { formatCoordinates, partitionKey } from '../../lib/event/coordinates';
import type { KafkaEvent, KafkaEventRecord } from '../../lib/event/types';

/** Why records went to the destination (requestContext.condition). */
export type FailureCondition = 'RetryAttemptsExhausted' | 'RecordAgeExceeded';

/** A batch given up on. */
export interface FailedBatch {
  records: KafkaEventRecord[];
  condition: FailureCondition;
  /** Invocations made with these records (0 when they were too old to be invoked). */
  invokeCount: number;
  /** The last invocation's error, if there was one. */
  error?: Error;
}

/** Where failed batches go. */
export interface FailureDestination {
  /** As the mapping names it: `kafka://topic`, or the folder standing for the bucket. */
  readonly uri: string;
  /** Gets it ready before the first record is read; lines worth telling the user. */
  open?(): Promise<{ info: string[]; warn: string[] }>;
  send(batch: FailedBatch): Promise<void>;
  close(): Promise<void>;
}

/** How events are shaped for the payload. */
export interface EventContext {
  source: EventShape;
  bootstrapServers: string;
  /** The function's ARN as the invocation record names it. */
  functionArn?: string;
}

export const LOCAL_FUNCTION_ARN = 'arn:aws:lambda:eu-west-1:000000000000:function:quotes-sink-local-sink';

export { destinationMaxMessageBytes, KAFKA_DEFAULT_MAX_MESSAGE_BYTES } from '../deploy/mapping-rules';

const iso = (ms: number) => new Date(ms).toISOString();

/** The invocation record's common part: requestContext, responseContext, version, timestamp. */
function envelope(b: FailedBatch, ctx: EventContext, now: number): Record<string, unknown> {
  return {
    requestContext: {
      requestId: randomUUID(),
      functionArn: `${ctx.functionArn ?? LOCAL_FUNCTION_ARN}:$LATEST`,
      condition: b.condition,
      approximateInvokeCount: b.invokeCount,
    },
    // Records too old to be invoked have no response.
    responseContext:
      b.invokeCount === 0 ? null : { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
    version: '1.0',
    timestamp: iso(now),
  };
}

/** Per partition: first and last offset and timestamp, as S3 invocation records list them. */
function recordsInfo(records: KafkaEventRecord[]): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const r of records) {
    const k = partitionKey(r);
    const info = (out[k] ??= { firstRecordOffset: String(r.offset), firstRecordTimestamp: iso(r.timestamp) });
    info.lastRecordOffset = String(r.offset);
    info.lastRecordTimestamp = iso(r.timestamp);
  }
  return out;
}

/** The S3 object for a failed batch: the invocation record with the whole event as payload. */
export function s3InvocationRecord(b: FailedBatch, ctx: EventContext, now = Date.now()): Record<string, unknown> {
  const payload: KafkaEvent = buildEvent(ctx.source, ctx.bootstrapServers, b.records);
  return {
    ...envelope(b, ctx, now),
    KafkaBatchInfo: {
      batchSize: b.records.length,
      ...(payload.eventSourceArn ? { eventSourceArn: payload.eventSourceArn } : {}),
      bootstrapServers: ctx.bootstrapServers,
      payloadSize: Buffer.byteLength(JSON.stringify(payload)),
      recordsInfo: recordsInfo(b.records),
    },
    payload,
  };
}

/** The Kafka destination's message value for one failed record: the invocation record of that record. */
export function kafkaFailureRecord(
  r: KafkaEventRecord,
  b: FailedBatch,
  ctx: EventContext,
  now = Date.now(),
): Record<string, unknown> {
  const payload = buildEvent(ctx.source, ctx.bootstrapServers, [r]);
  return {
    ...envelope(b, ctx, now),
    KafkaBatchInfo: {
      batchSize: 1,
      ...(payload.eventSourceArn ? { eventSourceArn: payload.eventSourceArn } : {}),
      bootstrapServers: ctx.bootstrapServers,
      payloadSize: Buffer.byteLength(JSON.stringify(payload)),
      recordInfo: { offset: String(r.offset), timestamp: iso(r.timestamp) },
    },
    payload,
  };
}

/** A folder standing for the S3 bucket: one file per failed batch, written atomically. */
export function folderDestination(dir: string, ctx: EventContext): FailureDestination {
  mkdirSync(dir, { recursive: true });
  return {
    uri: dir,
    async send(b) {
      const doc = s3InvocationRecord(b, ctx);
      const first = b.records[0];
      const name = `${new Date().toISOString().replace(/[:.]/g, '-')}-${partitionKey(first)}-${first.offset}-${randomUUID()}.json`;
      const tmp = path.join(dir, `.${name}.tmp`);
      writeFileSync(tmp, `${JSON.stringify(doc)}\n`);
      renameSync(tmp, path.join(dir, name));
    },
    close: async () => undefined,
  };
}

/** A record's and a record batch's framing in Kafka's log, over the key and value bytes (bounds). */
const RECORD_OVERHEAD = 64;
const BATCH_OVERHEAD = 61;

/**
 * A failed record's invocation record is larger than the destination topic takes: it cannot be
 * kept, so its partition cannot move on (the emulator stops rather than lose it).
 */
export class DestinationTooSmallError extends QuotesSinkError {
  constructor(
    readonly topic: string,
    readonly needed: number,
    readonly record: KafkaEventRecord,
    readonly limit?: number,
  ) {
    super(
      `destination topic ${topic} cannot take record ${formatCoordinates(record)}: its invocation record needs ` +
        `${needed} bytes${limit === undefined ? '' : `, the topic's max.message.bytes is ${limit}`}; ` +
        `set the topic's max.message.bytes to at least ${needed}`,
    );
  }
}

/** A topic's `max.message.bytes`, as the broker applies it (its own setting or the broker's default). */
async function maxMessageBytes(admin: Admin, topic: string): Promise<number | undefined> {
  const { resources } = await admin.describeConfigs({
    includeSynonyms: false,
    resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['max.message.bytes'] }],
  });
  const value = resources[0]?.configEntries.find((c) => c.configName === 'max.message.bytes')?.configValue;
  return value === undefined ? undefined : Number(value);
}

const messageBytes = (m: Message) =>
  RECORD_OVERHEAD + (m.key ? Buffer.byteLength(m.key) : 0) + Buffer.byteLength(m.value as string);

/** What `open` found: the destination topic's limit, and lines for the user. */
interface PreparedTopic {
  limit?: number;
  info: string[];
  warn: string[];
}

/** Creates the destination topic sized for the source's records, or checks an existing one's limit. */
async function prepareTopic(admin: Admin, topic: string, sourceTopic?: string): Promise<PreparedTopic> {
  const source = sourceTopic === undefined ? undefined : await maxMessageBytes(admin, sourceTopic);
  const needed = destinationMaxMessageBytes(source);
  const why = `a ${source ?? KAFKA_DEFAULT_MAX_MESSAGE_BYTES}-byte record of ${sourceTopic ?? 'the source'} in base64 within its invocation record`;
  if (!(await admin.listTopics()).includes(topic)) {
    await admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic, numPartitions: 1, configEntries: [{ name: 'max.message.bytes', value: String(needed) }] }],
    });
    return {
      limit: needed,
      info: [`created destination topic ${topic} with max.message.bytes ${needed} (${why})`],
      warn: [],
    };
  }
  const limit = await maxMessageBytes(admin, topic);
  if (limit === undefined || limit >= needed) return { limit, info: [], warn: [] };
  const line = `destination topic ${topic} has max.message.bytes ${limit}, below the ${needed} that ${why} needs: set it to at least ${needed}, or a large failed record stops the emulator`;
  return { limit, info: [], warn: [line] };
}

/** `messages` in runs of at most `room` bytes; a message larger than that alone is `tooBig(index)`. */
function chunksOf(messages: Message[], room: number, tooBig: (i: number) => Error): Message[][] {
  const chunks: Message[][] = [];
  let size = Infinity;
  messages.forEach((m, i) => {
    const n = messageBytes(m);
    if (n > room) throw tooBig(i);
    if (size + n > room) {
      chunks.push([]);
      size = 0;
    }
    chunks[chunks.length - 1].push(m);
    size += n;
  });
  return chunks;
}

/** The Kafka destination's options beyond the topic. */
export interface KafkaDestinationOptions {
  /** The source topic: its `max.message.bytes` sizes a destination topic the emulator creates. */
  sourceTopic?: string;
}

/**
 * A Kafka topic on the same cluster (`kafka://topic`): one message per record, with the record's
 * key. AWS needs the topic to exist; locally `open` creates it when it does not, with room for the
 * source topic's largest record ({@link destinationMaxMessageBytes}), and warns when an existing
 * one has less. Messages are sent in chunks that each fit the topic's `max.message.bytes` (kafkajs
 * puts a send's messages for one partition in one record batch, which the limit applies to).
 */
export function kafkaDestination(
  kafka: Pick<Kafka, 'producer' | 'admin'>,
  topic: string,
  ctx: EventContext,
  o: KafkaDestinationOptions = {},
): FailureDestination {
  // One connection, shared by batches that fail at the same time (they must not send before it is up).
  let connected: Promise<Producer> | undefined;
  let limit: number | undefined;
  const producer = () =>
    (connected ??= (async () => {
      const p = kafka.producer({ allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1 });
      await p.connect();
      return p;
    })());
  const tooSmall = (m: Message, r: KafkaEventRecord) =>
    new DestinationTooSmallError(topic, messageBytes(m) + BATCH_OVERHEAD, r, limit);
  return {
    uri: `kafka://${topic}`,
    async open() {
      const admin = kafka.admin();
      await admin.connect();
      try {
        const ready = await prepareTopic(admin, topic, o.sourceTopic);
        limit = ready.limit;
        return ready;
      } finally {
        await admin.disconnect();
      }
    },
    async send(b) {
      const now = Date.now();
      const messages: Message[] = b.records.map((r) => ({
        key: r.key ? Buffer.from(r.key, 'base64') : null,
        value: JSON.stringify(kafkaFailureRecord(r, b, ctx, now)),
      }));
      const chunks = chunksOf(messages, (limit ?? KAFKA_DEFAULT_MAX_MESSAGE_BYTES) - BATCH_OVERHEAD, (i) =>
        tooSmall(messages[i], b.records[i]),
      );
      const p = await producer();
      for (const chunk of chunks) {
        try {
          await p.send({ topic, acks: -1, messages: chunk });
        } catch (e) {
          // The limit may have changed since open(), or been unknown: still one clear line.
          const type = (e as { type?: string }).type ?? (e as { cause?: { type?: string } }).cause?.type;
          if (type !== 'MESSAGE_TOO_LARGE' && type !== 'RECORD_LIST_TOO_LARGE') throw e;
          const largest = chunk.reduce((a, m) => (messageBytes(m) > messageBytes(a) ? m : a));
          throw tooSmall(largest, b.records[messages.indexOf(largest)]);
        }
      }
    },
    close: async () => {
      if (connected) await (await connected).disconnect();
    },
  };
}
