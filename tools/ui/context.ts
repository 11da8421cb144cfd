/**
 * The UI's composition root: the clients it needs, made from the same configuration as the CLIs,
 * and handed to the read adapters, the dead-letter replay and the record stores (for repair).
 */
import type { Config } from '../../lib/config';
import { LOCAL_MSK_ARN } from '../emulator/event';
import { clusterKey, clusterName, eventClusterKey, type ClusterKey } from '../../lib/event/coordinates';
import { createKafka } from '../kafka';
import type { Quote } from '../../lib/records/quote';
import { quotesRoute } from '../../lib/routes/default';
import { DeadLetters } from '../replay/dead-letters';
import type { DeadLetterInspector, RecordInspector } from '../../lib/sink/inspect';
import { MongoRecordInspector } from '../../lib/mongo/inspect';
import { createMongoClient, mongoTargetFrom } from '../../lib/mongo/store';
import { PostgresDeadLetterInspector, PostgresRecordInspector } from '../../lib/postgres/inspect';
import { createPostgresPool } from '../../lib/postgres/store';
import type { RecordStore } from '../../lib/sink/port';
import { openStores } from '../../lib/stores';
import { tablesFrom } from '../../lib/postgres/names';
import { KafkaView } from './kafka-view';
import type { StoreLabel } from './fate';
import { EMULATOR_STATUS_DIR } from './status-file';

/**
 * A record store as the pages show it: its read side (whose `name` is the store's, as
 * `RecordStore.name` gives it), its label, what one record is kept as, and where (table, collection).
 */
export interface StoreView extends StoreLabel {
  inspector: RecordInspector;
  /** e.g. `public.quotes`. */
  where: string;
}

/** A store's view: its name from its inspector. */
const storeView = (inspector: RecordInspector, v: Omit<StoreView, 'inspector' | 'name'>): StoreView => ({
  name: inspector.name,
  inspector,
  ...v,
});

/** Everything a page may use. Tests may build one with fakes. */
export interface UiContext {
  config: Config;
  kafka: KafkaView;
  /** The record stores, in order; pages and the consistency check iterate over them by name. */
  stores: readonly StoreView[];
  deadLetters: DeadLetterInspector;
  /** Replays dead letters by id (`topic/partition/offset`); returns the ids that were re-published. */
  replay(ids: readonly string[]): Promise<string[]>;
  /** The record stores the sink writes, for repairs. */
  recordStores(): readonly RecordStore<Quote>[];
  /** Where the emulators' status files are. */
  statusDir: string;
  close(): Promise<void>;
}

/**
 * The cluster keys this configuration's records may have: the Kafka cluster's id (what the
 * emulator names its records by, SINK_CLUSTER_ID or the id Kafka gives), and, without one, the
 * bootstrap servers (self-managed events) and the emulator's local MSK ARN (MSK-shaped ones).
 */
export const clustersOf = (c: Config): ClusterKey[] => [
  ...(c.SINK_CLUSTER_ID ? [eventClusterKey({}, c.SINK_CLUSTER_ID)] : []),
  clusterKey(clusterName({ bootstrapServers: c.KAFKA_BROKERS })),
  clusterKey(clusterName({ eventSourceArn: LOCAL_MSK_ARN })),
];

/** The UI's context on new clients for `config`; connects lazily. */
export function createUiContext(config: Config): UiContext {
  const pool = createPostgresPool(config);
  const mongoClient = createMongoClient(config);
  const kafka = createKafka(config, 'quotes-sink-ui');
  const tables = tablesFrom(config);
  const deadLetters = new DeadLetters(config);
  let stores: ReturnType<typeof openStores<Quote>> | undefined;
  const quoteType = quotesRoute();
  return {
    config,
    kafka: new KafkaView(kafka),
    stores: [
      storeView(new PostgresRecordInspector(pool, tables, quoteType), {
        label: 'Postgres',
        unit: 'row',
        where: `${config.POSTGRES_SCHEMA}.${config.POSTGRES_QUOTES_TABLE}`,
      }),
      storeView(new MongoRecordInspector(mongoClient, mongoTargetFrom(config), clustersOf(config), quoteType), {
        label: 'Mongo',
        unit: 'document',
        where: `${config.MONGO_DATABASE}.${config.MONGO_COLLECTION}`,
      }),
    ],
    deadLetters: new PostgresDeadLetterInspector(pool, tables),
    // One id at a time through the CLI's replay: the same locking, marking and headers.
    async replay(ids) {
      const done: string[] = [];
      for (const id of ids) done.push(...(await deadLetters.replay(kafka, { id })).replayed);
      return done;
    },
    recordStores: () => (stores ??= openStores(config, quoteType)).records,
    statusDir: EMULATOR_STATUS_DIR,
    async close() {
      await Promise.allSettled([this.kafka.close(), pool.end(), mongoClient.close(), stores?.close()]);
    },
  };
}
