/**
 * One Kafka event source mapping per routed topic (AWS takes one topic per mapping): which sink
 * file a run reads, and the naming rules that give each route's mapping its topic, consumer group
 * and Kafka on-failure destination. Shared by the deploy plugin, the doctor and the emulator, so
 * that all three name the same groups and topics. Pure, but for reading the sink file.
 *
 * - The **primary route** is the route named `quotes` (else the file's first route). Its mapping is
 *   the one the framework compiles from serverless.yml (its logical ID unchanged): topic
 *   `${param:topic}` (KAFKA_TOPIC locally) for the `quotes` route, consumer group
 *   `${param:consumerGroupId}` (KAFKA_GROUP_ID locally), destination `${param:destinationTopic}`.
 * - **Every other route** `R` with topic `T`: consumer group `<primary group>-R`, Kafka destination
 *   topic `T-failed`. An S3 bucket or SQS queue destination is shared by every mapping (AWS keys
 *   the S3 objects by the mapping's UUID; an SQS message names the mapping and the topic).
 */
import path from 'node:path';
import { IDENTIFIER, PROJECT_ROOT, type Config } from '../../lib/config';
import type { RoutePlan } from '../../lib/routes/plan';

/** The route whose topic, table and collection the configuration (and the deploy params) override. */
export const PRIMARY_ROUTE = 'quotes';
/** The suffix of a non-primary route's Kafka destination topic: `<topic>-failed`. */
export const DESTINATION_SUFFIX = '-failed';

/**
 * The sink file a run uses: `SINK_FILE` (a path relative to the project root, or absolute), else
 * the default sink.yaml at the root.
 */
export function sinkFilePath(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(PROJECT_ROOT, env.SINK_FILE || 'sink.yaml');
}

/** One route's mapping, as the naming rules give it. */
export interface RouteMapping {
  route: string;
  /** The primary route's mapping is the one the framework (or the flags) configure. */
  primary: boolean;
  topic: string;
  groupId: string;
  /** The topic a Kafka on-failure destination sends to. */
  destinationTopic: string;
}

/** What the primary route's mapping is configured with (deploy params, or the emulator's settings). */
export interface PrimaryMapping {
  /** The topic for the `quotes` route (param topic, KAFKA_TOPIC); another primary route keeps its own. */
  topic: string;
  groupId: string;
  destinationTopic: string;
}

/** The name of the primary route of `routes`: `quotes` if there is one, else the first. */
export function primaryRoute(routes: readonly Pick<RoutePlan, 'name'>[]): string | undefined {
  return routes.find((r) => r.name === PRIMARY_ROUTE)?.name ?? routes[0]?.name;
}

/** The mapping of every route, in the file's order, by the rules above. */
export function routeMappings(
  routes: readonly Pick<RoutePlan, 'name' | 'topic'>[],
  primary: PrimaryMapping,
): RouteMapping[] {
  const first = primaryRoute(routes);
  return routes.map((r) => {
    if (r.name !== first) {
      return {
        route: r.name,
        primary: false,
        topic: r.topic,
        groupId: `${primary.groupId}-${r.name}`,
        destinationTopic: `${r.topic}${DESTINATION_SUFFIX}`,
      };
    }
    const topic = r.name === PRIMARY_ROUTE ? primary.topic : r.topic;
    return {
      route: r.name,
      primary: true,
      topic,
      groupId: primary.groupId,
      destinationTopic: primary.destinationTopic,
    };
  });
}

/** The configuration the route checks read: the primary route's overrides and the sink's own stores. */
export type RouteCheckConfig = Pick<
  Config,
  | 'KAFKA_TOPIC'
  | 'POSTGRES_QUOTES_TABLE'
  | 'POSTGRES_DEAD_LETTER_TABLE'
  | 'MONGO_COLLECTION'
  | 'MONGO_DEAD_LETTER_COLLECTION'
>;

/** One broken rule of the routes, on one line. */
export interface RouteViolation {
  rule: 'route-names-legal' | 'route-names-distinct' | 'topic-routed-twice' | 'destination-routed';
  route: string;
  message: string;
}

/** A route as it runs: the `quotes` route's topic, table and collection as the configuration overrides them. */
export function effectiveRoute(
  r: RoutePlan,
  c: RouteCheckConfig,
): { topic: string; table: string; collection: string } {
  return r.name === PRIMARY_ROUTE
    ? { topic: c.KAFKA_TOPIC, table: c.POSTGRES_QUOTES_TABLE, collection: c.MONGO_COLLECTION }
    : { topic: r.topic, table: r.postgres.table, collection: r.mongo.collection };
}

/** Postgres's longest identifier, and the index every records table has (lib/postgres/tables.ts). */
const MAX_IDENTIFIER = 63;
const ALWAYS_INDEXED = 'ingested_at';
const COLLECTION = /^[A-Za-z0-9_.-]{1,120}$/;

/** A table whose name, or one of its index names (`<table>_<column>_idx`), Postgres cannot take; a collection MongoDB cannot. */
function illegalNames(r: RoutePlan, e: ReturnType<typeof effectiveRoute>): string[] {
  const out: string[] = [];
  if (!IDENTIFIER.test(e.table)) out.push(`table "${e.table}" is not a lower-case SQL identifier`);
  const indexed = [ALWAYS_INDEXED, ...r.postgres.columns.filter((c) => c.index).map((c) => c.column)];
  const long = indexed.map((c) => `${e.table}_${c}_idx`).filter((n) => n.length > MAX_IDENTIFIER);
  if (long.length) out.push(`table "${e.table}": index name ${long[0]} is longer than Postgres allows (63)`);
  if (!COLLECTION.test(e.collection) || e.collection.startsWith('system.'))
    out.push(`collection "${e.collection}" is not a name MongoDB takes`);
  return out;
}

/** The sink's own tables and collection, which no route may write into. */
const sinkOwn = (c: RouteCheckConfig) => ({
  tables: ['', '_tombstones', '_clusters'].map((s) => `${c.POSTGRES_DEAD_LETTER_TABLE}${s}`),
  collection: c.MONGO_DEAD_LETTER_COLLECTION,
});

/** What `value` clashes with: an earlier route's, or the sink's own; undefined when free (and then taken). */
function clash(seen: Map<string, string>, key: string, route: string): string | undefined {
  const first = seen.get(key);
  if (first === undefined) seen.set(key, route);
  return first;
}

/**
 * The doctor's checks of every route, as it runs with configuration `c`: legal table and
 * collection names; tables and collections distinct across routes and from the dead letters'; no
 * topic routed twice; no Kafka destination topic (`destinationTopic` for the primary route, the
 * naming rule for the others) that a route reads. One violation per problem, in the file's order.
 */
export function checkRoutes(
  routes: readonly RoutePlan[],
  c: RouteCheckConfig,
  destinationTopic?: string,
): RouteViolation[] {
  const out: RouteViolation[] = [];
  const own = sinkOwn(c);
  const seen = new Map<string, string>([
    ...own.tables.map((t): [string, string] => [`table ${t}`, 'the dead letters']),
    [`collection ${own.collection}`, 'the dead letters'],
  ]);
  for (const r of routes) {
    const e = effectiveRoute(r, c);
    for (const message of illegalNames(r, e)) out.push({ rule: 'route-names-legal', route: r.name, message });
    for (const [what, name] of [
      ['table', e.table],
      ['collection', e.collection],
    ] as const) {
      const first = clash(seen, `${what} ${name}`, `route ${r.name}`);
      if (first)
        out.push({ rule: 'route-names-distinct', route: r.name, message: `${what} "${name}" is ${first}'s already` });
    }
    const first = clash(seen, `topic ${e.topic}`, `route ${r.name}`);
    if (first)
      out.push({
        rule: 'topic-routed-twice',
        route: r.name,
        message: `topic "${e.topic}" is routed by ${first} already`,
      });
  }
  const topics = new Map(routes.map((r) => [effectiveRoute(r, c).topic, r.name]));
  const primary = {
    topic: c.KAFKA_TOPIC,
    groupId: '',
    destinationTopic: destinationTopic ?? `${c.KAFKA_TOPIC}${DESTINATION_SUFFIX}`,
  };
  for (const m of routeMappings(routes, primary)) {
    const reader = topics.get(m.destinationTopic);
    if (reader !== undefined)
      out.push({
        rule: 'destination-routed',
        route: m.route,
        message: `destination topic "${m.destinationTopic}" is routed by route ${reader}`,
      });
  }
  return out;
}
