/** The routes of the sink file (sink.yaml, or SINK_FILE), as record types: what the function sinks. */
import type { Config } from '../config';
import type { Quote } from '../records/quote';
import type { RecordType } from '../records/record-type';
import { QuotesSinkError } from '../errors';
import { compiledSink } from './compiled';
import type { RoutePlan } from './plan';
import { routeRecordType } from './record-type';

/** A route and its record type. */
export interface Route {
  plan: RoutePlan;
  type: RecordType<Record<string, unknown>>;
}

let routes: Route[] | undefined;

/** The sink file's routes, in its order (loaded and compiled once; see ./compiled.ts). */
export function defaultRoutes(): Route[] {
  if (!routes) {
    const { plans, validators } = compiledSink();
    routes = plans.map((plan) => ({ plan, type: routeRecordType(plan, validators[plan.name]) }));
  }
  return routes;
}

/** The record type of the sink file's `quotes` route (the quotes pipeline). */
export function quotesRoute(): RecordType<Quote> {
  const route = defaultRoutes().find((r) => r.plan.name === 'quotes');
  if (!route) throw new QuotesSinkError('the sink file has no route quotes');
  // The route's schema (schemas/quotes.schema.json) accepts only values of this shape.
  return route.type as unknown as RecordType<Quote>;
}

/** The route the configuration's KAFKA_TOPIC, POSTGRES_QUOTES_TABLE and MONGO_COLLECTION apply to. */
export const QUOTES_ROUTE = 'quotes';

/** Where a route's records come from and go: its topic, Postgres table and Mongo collection. */
export interface RouteTarget<T = Record<string, unknown>> {
  name: string;
  topic: string;
  table: string;
  collection: string;
  type: RecordType<T>;
}

/**
 * The routes' topics, tables and collections as the function uses them: the sink file's, except
 * for the route named `quotes`, whose topic, table and collection are KAFKA_TOPIC,
 * POSTGRES_QUOTES_TABLE and MONGO_COLLECTION (their defaults are the default sink file's values):
 * the settings that named them before there were routes keep working, and tests give the quotes
 * route names of their own with them.
 */
export function routeTargets(
  config: Pick<Config, 'KAFKA_TOPIC' | 'POSTGRES_QUOTES_TABLE' | 'MONGO_COLLECTION'>,
  of: readonly Route[] = defaultRoutes(),
): RouteTarget[] {
  return of.map(({ plan, type }) =>
    plan.name === QUOTES_ROUTE
      ? {
          name: plan.name,
          topic: config.KAFKA_TOPIC,
          table: config.POSTGRES_QUOTES_TABLE,
          collection: config.MONGO_COLLECTION,
          type,
        }
      : { name: plan.name, topic: plan.topic, table: plan.postgres.table, collection: plan.mongo.collection, type },
  );
}
