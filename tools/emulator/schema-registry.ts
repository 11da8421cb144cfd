/**
 * The event source mapping's schema registry, JSON record format (issue 23 item 3), for a
 * Confluent-compatible registry and Avro values: a value in Confluent's wire format (byte 0, a
 * 4-byte big-endian schema id, the Avro binary) is decoded with the registry's schema for that id
 * and delivered as JSON (base64, as every value), with `valueSchemaMetadata` { dataFormat, schemaId }
 * beside it, as Lambda does with `EventRecordFormat: JSON`:
 * https://docs.aws.amazon.com/lambda/latest/dg/services-consume-kafka-events.html ("Payload formats
 * and deserialization behavior"); the field names as Powertools for AWS Lambda reads them.
 * Not yet: SOURCE, keys, Protobuf and JSON Schema, Glue, and sending what fails to decode to the
 * destination with AWS's reasons (SCHEMA_NOT_FOUND, DESERIALIZATION_ERROR): a failure stops the run.
 */
import type { KafkaEventRecord } from '../../lib/event/types';
import { QuotesSinkError } from '../../lib/errors';
import { avroType, parseConfluentFrame, type AvroType } from '../producer/avro';

/** A value the registry could not decode (unknown id, a format other than Avro, corrupt bytes). */
export class SchemaDecodeError extends QuotesSinkError {}

/** Decodes the records' framed values through a registry; schemas are fetched once per id. */
export class ConfluentJsonDecoder {
  private readonly schemas = new Map<number, Promise<AvroType>>();

  constructor(
    private readonly registryUrl: string,
    private readonly timeoutMs = 10_000,
  ) {}

  /** The records, each framed value as JSON with its schema metadata; others as they are. */
  decode(records: KafkaEventRecord[]): Promise<KafkaEventRecord[]> {
    return Promise.all(records.map((r) => this.decodeOne(r)));
  }

  private async decodeOne(r: KafkaEventRecord): Promise<KafkaEventRecord> {
    if (!r.value) return r;
    const frame = parseConfluentFrame(Buffer.from(r.value, 'base64'));
    if (!frame) return r;
    const type = await this.schema(frame.schemaId);
    let json: string;
    try {
      json = JSON.stringify(type.fromBuffer(frame.payload));
    } catch (e) {
      const where = `${r.topic}-${r.partition}@${r.offset}`;
      throw new SchemaDecodeError(`${where}: not Avro of schema ${frame.schemaId} (${(e as Error).message})`);
    }
    const value = Buffer.from(json, 'utf8').toString('base64');
    return { ...r, value, valueSchemaMetadata: { dataFormat: 'AVRO', schemaId: String(frame.schemaId) } };
  }

  private schema(id: number): Promise<AvroType> {
    let found = this.schemas.get(id);
    if (!found) {
      found = this.fetchSchema(id);
      // A failed look-up is not kept: the next record asks again.
      found.catch(() => this.schemas.delete(id));
      this.schemas.set(id, found);
    }
    return found;
  }

  private async fetchSchema(id: number): Promise<AvroType> {
    const url = `${this.registryUrl.replace(/\/+$/, '')}/schemas/ids/${id}`;
    const res = await fetch(url, { signal: AbortSignal.timeout(this.timeoutMs) });
    const body = await res.text();
    if (!res.ok) throw new SchemaDecodeError(`GET ${url}: HTTP ${res.status} ${body.slice(0, 200)}`);
    const { schema, schemaType } = JSON.parse(body) as { schema: string; schemaType?: string };
    if (schemaType && schemaType !== 'AVRO') throw new SchemaDecodeError(`schema ${id} is ${schemaType}, not Avro`);
    return avroType(JSON.parse(schema));
  }
}
