/**
 * The event AWS Lambda receives from an MSK or self-managed Kafka event source mapping.
 * Unlike @types/aws-lambda, key and value may be missing or null (no key; a tombstone).
 */
export type EventSource = 'aws:kafka' | 'SelfManagedKafka';

/** `[{ "name": [signed bytes] }]`: Java bytes, -128..127. */
export type KafkaEventHeaders = Array<Record<string, number[]>>;

export interface KafkaEventRecord {
  topic: string;
  partition: number;
  offset: number;
  /** Epoch milliseconds. */
  timestamp: number;
  timestampType: 'CREATE_TIME' | 'LOG_APPEND_TIME';
  /** Base64; missing or null when the record has no key. */
  key?: string | null;
  /** Base64; missing or null for a tombstone. */
  value?: string | null;
  headers: KafkaEventHeaders;
  keySchemaMetadata?: { dataFormat?: string; schemaId?: string };
  valueSchemaMetadata?: { dataFormat?: string; schemaId?: string };
}

export interface KafkaEvent {
  eventSource: EventSource;
  /** MSK only. */
  eventSourceArn?: string;
  /** One comma-separated string. */
  bootstrapServers: string;
  /** `"<topic>-<partition>"` → that partition's records, in offset order. */
  records: Record<string, KafkaEventRecord[]>;
}

/**
 * A header as stored: text when its bytes are UTF-8, else the bytes in base64. A name no store can
 * hold (a NUL, a lone surrogate) is kept in `nameBase64` (its UTF-8 bytes), out of band: `name`
 * then only shows it, so no producer's name can pass for an encoded one.
 */
export interface StoredHeader {
  name: string;
  nameBase64?: string;
  value?: string;
  valueBase64?: string;
}
