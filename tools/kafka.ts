/** kafkajs clients from config: brokers, TLS and SASL as configured; quiet unless LOG_LEVEL=debug. */
import { readFileSync } from 'node:fs';
import { Kafka, logLevel, type KafkaConfig, type SASLOptions } from 'kafkajs';
import { brokerList, type Config } from '../lib/config';

/** The kafkajs client options for `config` (exported for tests of how TLS/SASL reach the client). */
export function kafkaOptions(c: Config, clientId = c.KAFKA_CLIENT_ID): KafkaConfig {
  const opts: KafkaConfig = {
    clientId,
    brokers: brokerList(c.KAFKA_BROKERS),
    logLevel: c.LOG_LEVEL === 'debug' || c.LOG_LEVEL === 'trace' ? logLevel.INFO : logLevel.NOTHING,
    connectionTimeout: 5_000,
    requestTimeout: 30_000,
    retry: { retries: 8, initialRetryTime: 300, maxRetryTime: 10_000 },
  };
  if (c.KAFKA_SSL) opts.ssl = c.KAFKA_SSL_CA_FILE ? { ca: [readFileSync(c.KAFKA_SSL_CA_FILE, 'utf8')] } : true;
  if (c.KAFKA_SASL_MECHANISM) {
    opts.sasl = {
      mechanism: c.KAFKA_SASL_MECHANISM,
      username: c.KAFKA_SASL_USERNAME,
      password: c.KAFKA_SASL_PASSWORD,
    } as SASLOptions;
  }
  return opts;
}

export const createKafka = (c: Config, clientId?: string) => new Kafka(kafkaOptions(c, clientId));

/**
 * The cluster id records' identities use (lib/event/coordinates.ts `eventClusterKey`):
 * SINK_CLUSTER_ID, else Kafka's own cluster id from a metadata request. The emulator hands it to
 * the function and the redrive signs with it, so both name the cluster alike however its brokers
 * are spelled.
 */
export async function clusterIdOf(c: Config, kafka: Pick<Kafka, 'admin'>): Promise<string> {
  if (c.SINK_CLUSTER_ID) return c.SINK_CLUSTER_ID;
  const admin = kafka.admin();
  await admin.connect();
  try {
    return (await admin.describeCluster()).clusterId;
  } finally {
    await admin.disconnect();
  }
}
