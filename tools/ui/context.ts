/**
 * The UI's composition root: the clients it needs, made from the same configuration as the CLIs,
 * and handed to the read adapters, the dead-letter replay and the record stores (for repair).
 */
import type { Config } from '../../lib/config';
import { LOCAL_MSK_ARN } from '../emulator/event';
import { clusterKey, clusterName, eventClusterKey, type ClusterKey } from '../../lib/event/coordinates';
import { createKafka } from '../kafka';
import type { Quote } from '../../lib/records/quote';
import { QUOTES_ROUTE, routeTargets, type RouteTarget } from '../../lib/routes/default';
import { DeadLetters } from '../replay/dead-letters';
import type { DeadLetterInspector, RecordInspector } from '../../lib/sink/inspect';
import { MongoRecordInspector } from '../../lib/mongo/inspect';
import { createMongoClient, mongoTargetFrom } from '../../lib/mongo/store';
import { PostgresDeadLetterInspector, PostgresRecordInspector } from '../../lib/postgres/inspect';
import { createPostgresPool } from '../../lib/postgres/store';
import type { RecordStore } from '../../lib/sink/port';
import type { RecordType } from '../../lib/records/record-type';
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

/**
 * A route of the sink file as the pages show it: its topic, the consumer group its mapping commits
 * (the emulator's: KAFKA_GROUP_ID for quotes, `<KAFKA_GROUP_ID>-<route>` for the others), its
 * record stores' views and, for repairs, its record stores.
 */
export interface UiRoute {
  name: string;
  topic: string;
  group: string;
  stores: readonly StoreView[];
  recordStores(): readonly RecordStore<Quote>[];
}

/** Everything a page may use. Tests may build one with fakes. */
export interface UiContext {
  config: Config;
  kafka: KafkaView;
  /** The quotes route's record stores, in order; pages and the consistency check iterate over them by name. */
  stores: readonly StoreView[];
  /** Every route's (the sink file's order); without them (fakes), the pages know the quotes route only. */
  routes?: readonly UiRoute[];
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

/** The clients every route's views share. */
interface Clients {
  pool: ReturnType<typeof createPostgresPool>;
  mongoClient: ReturnType<typeof createMongoClient>;
}

/** A route's view: its stores' inspectors on the shared clients, its record stores opened on first repair. */
function uiRoute(config: Config, target: RouteTarget, clients: Clients, opened: OpenedStores): UiRoute {
  // The route's table and collection, named as the configuration names the quotes route's.
  const own: Config = { ...config, POSTGRES_QUOTES_TABLE: target.table, MONGO_COLLECTION: target.collection };
  const type = target.type as unknown as RecordType<Quote>;
  const stores = [
    storeView(new PostgresRecordInspector(clients.pool, tablesFrom(own), type), {
      label: 'Postgres',
      unit: 'row',
      where: `${config.POSTGRES_SCHEMA}.${target.table}`,
    }),
    storeView(new MongoRecordInspector(clients.mongoClient, mongoTargetFrom(own), clustersOf(config), type), {
      label: 'Mongo',
      unit: 'document',
      where: `${config.MONGO_DATABASE}.${target.collection}`,
    }),
  ];
  const group = target.name === QUOTES_ROUTE ? config.KAFKA_GROUP_ID : `${config.KAFKA_GROUP_ID}-${target.name}`;
  const recordStores = () => (opened[target.name] ??= openStores(own, type)).records;
  return { name: target.name, topic: target.topic, group, stores, recordStores };
}

/** The record stores opened for repairs, by route. */
type OpenedStores = Record<string, ReturnType<typeof openStores<Quote>>>;

/** The UI's context on new clients for `config`; connects lazily. */
export function createUiContext(config: Config): UiContext {
  const clients: Clients = { pool: createPostgresPool(config), mongoClient: createMongoClient(config) };
  const kafka = createKafka(config, 'quotes-sink-ui');
  const deadLetters = new DeadLetters(config);
  const opened: OpenedStores = {};
  const routes = routeTargets(config).map((t) => uiRoute(config, t, clients, opened));
  const quotes = routes.find((r) => r.name === QUOTES_ROUTE) ?? routes[0];
  return {
    config,
    kafka: new KafkaView(kafka),
    stores: quotes.stores,
    routes,
    deadLetters: new PostgresDeadLetterInspector(clients.pool, tablesFrom(config)),
    // One id at a time through the CLI's replay: the same locking, marking and headers.
    async replay(ids) {
      const done: string[] = [];
      for (const id of ids) done.push(...(await deadLetters.replay(kafka, { id })).replayed);
      return done;
    },
    recordStores: () => quotes.recordStores(),
    statusDir: EMULATOR_STATUS_DIR,
    async close() {
      const stores = Object.values(opened).map((s) => s.close());
      await Promise.allSettled([this.kafka.close(), clients.pool.end(), clients.mongoClient.close(), ...stores]);
    },
  };
}
