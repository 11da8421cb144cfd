/** The routes of the default sink file (sink.yaml), as record types: what the function sinks. */
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

/** The default sink file's routes, in its order (loaded and compiled once; see ./compiled.ts). */
export function defaultRoutes(): Route[] {
  if (!routes) {
    const { plans, validators } = compiledSink();
    routes = plans.map((plan) => ({ plan, type: routeRecordType(plan, validators[plan.name]) }));
  }
  return routes;
}

/** The record type of the default sink file's `quotes` route (the quotes pipeline). */
export function quotesRoute(): RecordType<Quote> {
  const route = defaultRoutes().find((r) => r.plan.name === 'quotes');
  if (!route) throw new QuotesSinkError('the default sink file (sink.yaml) has no route quotes');
  // The route's schema (schemas/quotes.schema.json) accepts only values of this shape.
  return route.type as unknown as RecordType<Quote>;
}
