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
import type { Kafka, Producer } from 'kafkajs';
import { buildEvent, type EventShape } from '../event/build';
import { partitionKey } from '../event/coordinates';
import type { KafkaEvent, KafkaEventRecord } from '../event/types';

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

/** A Kafka topic on the same cluster (`kafka://topic`): one message per record, with the record's key. */
export function kafkaDestination(kafka: Pick<Kafka, 'producer'>, topic: string, ctx: EventContext): FailureDestination {
  // One connection, shared by batches that fail at the same time (they must not send before it is up).
  let connected: Promise<Producer> | undefined;
  const producer = () =>
    (connected ??= (async () => {
      const p = kafka.producer({ allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1 });
      await p.connect();
      return p;
    })());
  return {
    uri: `kafka://${topic}`,
    async send(b) {
      const now = Date.now();
      await (
        await producer()
      ).send({
        topic,
        acks: -1,
        messages: b.records.map((r) => ({
          key: r.key ? Buffer.from(r.key, 'base64') : null,
          value: JSON.stringify(kafkaFailureRecord(r, b, ctx, now)),
        })),
      });
    },
    close: async () => {
      if (connected) await (await connected).disconnect();
    },
  };
}
