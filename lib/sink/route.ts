/**
 * A batch over the sink file's routes: the event's partitions sorted by topic to the route that
 * takes it, each route's part processed as one batch (./batch.ts) with its record type and its own
 * record stores, and the records of a topic no route takes dead-lettered (kind `route`) in the one
 * dead-letter store. One summary: the totals a one-route batch reports, and each route's part.
 */
import { performance } from 'node:perf_hooks';
import { STORE_NAMES } from '../config';
import { parseEvent, eventRecords } from '../event/parse';
import type { KafkaEvent } from '../event/types';
import {
  firstUnwritten,
  IncompleteBatchError,
  processEvent,
  typePreparer,
  type BatchItemFailure,
  type BatchOptions,
  type BatchSummary,
  type ChunkPreparer,
} from './batch';
import { BatchWriteError, StoreWriteError } from './errors';
import type { RoutedStores, RouteStores, StoreName, WriteCount } from './port';
import { prepareUnrouted } from './prepare';

/** A route's part of a batch: what its own batch reported (the event's source is the batch's). */
export type RouteSummary = Omit<BatchSummary, 'eventSource' | 'warnings'>;

/** The report of a routed batch: the totals over every route, and each route's part by its name. */
export interface RoutedBatchSummary extends BatchSummary {
  /** The routes the event had records for, by name, in the order they were written. */
  routes: Record<string, RouteSummary>;
  /** The records of topics no route takes (all dead letters of kind `route`), and the topics; absent when none. */
  unrouted?: RouteSummary & { topics: string[] };
}

/** Some of the event's partitions, and the route that takes their topic (none: dead letters of kind `route`). */
export interface RouteGroup {
  route?: RouteStores;
  event: KafkaEvent;
  topics: string[];
}

/** Why a record of `topic` is a dead letter of kind `route`. */
const noRoute = (topic: string): string =>
  `no route of the sink file takes topic ${topic} (an event source mapping the sink file does not route)`;

/**
 * The event's partitions by the route of their topic, routes in the order of the event, the
 * partitions of unrouted topics last. One lookup per partition, none per record.
 */
export function splitByRoute(event: KafkaEvent, routes: readonly RouteStores[]): RouteGroup[] {
  const byTopic = new Map<string, RouteStores>();
  for (const r of routes) if (!byTopic.has(r.topic)) byTopic.set(r.topic, r);
  const groups = new Map<RouteStores | undefined, RouteGroup>();
  for (const [key, list] of Object.entries(event.records)) {
    if (list.length === 0) continue;
    // parseEvent checked that every record of a partition has the topic of its key.
    const topic = list[0].topic;
    const route = byTopic.get(topic);
    let g = groups.get(route);
    if (!g) groups.set(route, (g = { route, event: { ...event, records: {} }, topics: [] }));
    g.event.records[key] = list;
    if (!g.topics.includes(topic)) g.topics.push(topic);
  }
  const unrouted = groups.get(undefined);
  groups.delete(undefined);
  return [...groups.values(), ...(unrouted ? [unrouted] : [])];
}

/** One group's batch: a route's with its type and record stores, or the unrouted records' as dead letters. */
function processRouteGroup(g: RouteGroup, stores: RoutedStores, opts: BatchOptions): Promise<BatchSummary> {
  const { deadLetters } = stores;
  if (g.route)
    return processEvent(g.event, typePreparer(g.route.type), { records: g.route.records, deadLetters }, opts);
  const prepare: ChunkPreparer<never> = (all, bounds, acc, _screens, context) =>
    prepareUnrouted(all, bounds, acc, context, noRoute);
  return processEvent(g.event, prepare, { records: [], deadLetters }, opts);
}

/** The first record of every partition of `groups`: all of them to be retried. */
const allOf = (groups: readonly RouteGroup[]): BatchItemFailure[] =>
  groups.flatMap((g) => firstUnwritten(eventRecords(g.event), 0));

/**
 * The error a routed batch ends with when group `i` failed. With partial responses on, once any
 * records were written (earlier groups, or earlier chunks of this one), the retry names what is
 * left: the failed group's partitions from where it stopped, and every later group's from its start.
 * Otherwise the error as it is (the whole batch is retried; every write is idempotent).
 */
export function routedFailure(e: unknown, groups: readonly RouteGroup[], i: number, opts: BatchOptions): unknown {
  const rest = allOf(groups.slice(i + 1));
  if (e instanceof IncompleteBatchError)
    return rest.length === 0
      ? e
      : new IncompleteBatchError([...e.batchItemFailures, ...rest], e.cause as StoreWriteError | BatchWriteError);
  const storeFailure = e instanceof StoreWriteError || e instanceof BatchWriteError;
  if (!opts.partialResponse || i === 0 || !storeFailure) return e;
  return new IncompleteBatchError([...allOf([groups[i]]), ...rest], e);
}

/**
 * Processes one Lambda Kafka event over the routes of `stores`: each route's partitions as one
 * batch, one route after the other (they share the clients, whose pools are sized for one batch's
 * chunks in flight), the unrouted ones last. Throws as {@link processEvent} does; with partial
 * responses on, a failure after some records were written names the partitions left
 * ({@link routedFailure}).
 */
export async function processRoutedBatch(
  input: unknown,
  stores: RoutedStores,
  opts: BatchOptions,
): Promise<RoutedBatchSummary> {
  const t0 = performance.now();
  const event = parseEvent(input);
  const groups = splitByRoute(event, stores.routes);
  const parts: [RouteGroup, BatchSummary][] = [];
  for (const [i, g] of groups.entries()) {
    try {
      parts.push([g, await processRouteGroup(g, stores, opts)]);
    } catch (e) {
      throw routedFailure(e, groups, i, opts);
    }
  }
  const storeNames = stores.routes.flatMap((r) => r.records.map((s) => s.name));
  return mergeSummaries(event.eventSource, parts, storeNames, performance.now() - t0);
}

const round2 = (x: number) => Math.round(x * 100) / 100;

/** `into[k] += add[k]` for every key of `add`. */
function addCounts(into: Record<string, number>, add: Readonly<Record<string, number>>): void {
  for (const [k, n] of Object.entries(add)) into[k] = round2((into[k] ?? 0) + n);
}

/** Every store's counts summed by name: the built-in stores first (as a one-route summary has them). */
function mergeStores(summaries: readonly BatchSummary[], names: readonly StoreName[]): Record<StoreName, WriteCount> {
  const out: Record<StoreName, WriteCount> = {};
  for (const n of new Set([...STORE_NAMES, ...names])) out[n] = { written: 0, alreadyPresent: 0 };
  for (const s of summaries)
    for (const [n, c] of Object.entries(s.stores)) {
      const t = (out[n] ??= { written: 0, alreadyPresent: 0 });
      t.written += c.written;
      t.alreadyPresent += c.alreadyPresent;
    }
  return out;
}

/** The totals of the groups' summaries (no group: an empty event's zeros). */
function totals(eventSource: string, summaries: readonly BatchSummary[], names: readonly StoreName[]): BatchSummary {
  const sum = (f: (s: BatchSummary) => number) => summaries.reduce((n, s) => n + f(s), 0);
  const byKind: Record<string, number> = {};
  const durations: Record<StoreName, number> = {};
  for (const n of Object.keys(mergeStores([], names))) durations[n] = 0;
  for (const s of summaries) {
    addCounts(byKind, s.deadLettered.byKind);
    addCounts(durations, s.durationMs.stores);
  }
  const warnings = summaries.flatMap((s) => s.warnings ?? []);
  return {
    eventSource,
    received: sum((s) => s.received),
    duplicateInEvent: sum((s) => s.duplicateInEvent),
    valid: sum((s) => s.valid),
    stores: mergeStores(summaries, names),
    deadLettered: {
      written: sum((s) => s.deadLettered.written),
      alreadyPresent: sum((s) => s.deadLettered.alreadyPresent),
      byKind,
    },
    tombstones: { received: sum((s) => s.tombstones.received), deleted: sum((s) => s.tombstones.deleted) },
    superseded: sum((s) => s.superseded),
    ...(warnings.length > 0 ? { warnings } : {}),
    partitions: Object.assign({}, ...summaries.map((s) => s.partitions)) as BatchSummary['partitions'],
    durationMs: { decode: round2(sum((s) => s.durationMs.decode)), stores: durations, total: 0 },
  };
}

/** A group's summary as a part of the batch's: without what the batch's own says (source, warnings). */
function routePart(s: BatchSummary): RouteSummary {
  const { eventSource: _source, warnings: _warnings, ...part } = s;
  return part;
}

/** The routed batch's summary: totals over the groups, each route's part, and the unrouted topics. */
export function mergeSummaries(
  eventSource: string,
  parts: readonly [RouteGroup, BatchSummary][],
  storeNames: readonly StoreName[],
  totalMs: number,
): RoutedBatchSummary {
  const summary = totals(
    eventSource,
    parts.map(([, s]) => s),
    storeNames,
  );
  const routes: Record<string, RouteSummary> = {};
  for (const [g, s] of parts) {
    if (!g.route) continue;
    routes[g.route.name] = routePart(s);
  }
  const unrouted = parts.find(([g]) => !g.route);
  const warnings = unrouted
    ? [...(summary.warnings ?? []), ...unrouted[0].topics.map((t) => `${noRoute(t)}: its records are dead letters`)]
    : summary.warnings;
  return {
    ...summary,
    ...(warnings ? { warnings } : {}),
    durationMs: { ...summary.durationMs, total: round2(totalMs) },
    routes,
    ...(unrouted ? { unrouted: { ...routePart(unrouted[1]), topics: unrouted[0].topics } } : {}),
  };
}
