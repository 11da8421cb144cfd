/**
 * CloudWatch metrics as Embedded Metric Format: one JSON line per batch on stdout, which Lambda's
 * log pipeline turns into metrics with no API call and no extra dependency.
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
 */
import { STORE_NAMES } from '../config';
import type { BatchSummary } from './batch';
import type { StoreName } from './port';
import type { RoutedBatchSummary, RouteSummary } from './route';

export const METRICS_NAMESPACE = 'QuotesSink';

/** A store's name as the first word of its metrics: `postgres` → `Postgres`, `in-memory` → `InMemory`. */
const metricWord = (store: StoreName): string =>
  store
    .split(/[^A-Za-z0-9]+/)
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('');

/**
 * The metric names of a batch written to `stores`, in the EMF line's order: each store adds
 * `<Store>Written`, `<Store>AlreadyPresent` and `<Store>Ms`, named after the store itself.
 */
export function metricNames(stores: readonly StoreName[]): string[] {
  const each = (suffix: string) => stores.map((s) => `${metricWord(s)}${suffix}`);
  return [
    'RecordsReceived',
    ...stores.flatMap((s) => [`${metricWord(s)}Written`, `${metricWord(s)}AlreadyPresent`]),
    'DeadLettersWritten',
    'Tombstones',
    'DecodeMs',
    ...each('Ms'),
    'BatchMs',
  ];
}

/** The metric names with the built-in stores, shared by the handler's EMF line and the emulator's status. */
export const METRIC_NAMES: readonly string[] = metricNames(STORE_NAMES);

/** The batch's metric values by name (dead letters by kind come as `DeadLetters_<kind>`). */
export function batchMetrics(s: BatchSummary | RouteSummary): Record<string, number> {
  const values: Record<string, number> = { RecordsReceived: s.received };
  for (const [store, c] of Object.entries(s.stores)) {
    values[`${metricWord(store)}Written`] = c.written;
    values[`${metricWord(store)}AlreadyPresent`] = c.alreadyPresent;
  }
  values.DeadLettersWritten = s.deadLettered.written;
  values.Tombstones = s.tombstones.received;
  values.DecodeMs = s.durationMs.decode;
  for (const [store, ms] of Object.entries(s.durationMs.stores)) values[`${metricWord(store)}Ms`] = ms;
  values.BatchMs = s.durationMs.total;
  for (const [k, n] of Object.entries(s.deadLettered.byKind)) values[`DeadLetters_${k}`] = n;
  return values;
}

/** The EMF document of `values` under the dimension sets `dimensions`, with the dimensions' values. */
function emf(
  values: Record<string, number>,
  dimensions: string[][],
  dimensionValues: Record<string, string>,
  now: number,
): Record<string, unknown> {
  const unit = (name: string) => (name.endsWith('Ms') ? 'Milliseconds' : 'Count');
  return {
    _aws: {
      Timestamp: now,
      CloudWatchMetrics: [
        {
          Namespace: METRICS_NAMESPACE,
          Dimensions: dimensions,
          Metrics: Object.keys(values).map((Name) => ({ Name, Unit: unit(Name) })),
        },
      ],
    },
    ...dimensionValues,
    ...values,
  };
}

/** One EMF document for a batch, with the function name as the dimension. */
export function emfDocument(s: BatchSummary, functionName: string, now = Date.now()): Record<string, unknown> {
  return emf(batchMetrics(s), [['FunctionName']], { FunctionName: functionName }, now);
}

/**
 * The EMF documents of a routed batch: one per route it had records for, its metrics under both
 * `FunctionName` and `FunctionName, Route`, so the function's metrics are the sum of its routes'
 * and each route has its own; the records of unrouted topics in one more, under `FunctionName`
 * alone. A batch with no records (or a summary without routes) gives the one document of
 * {@link emfDocument}. AWS sends one topic per mapping, so a deployed batch gives one document.
 */
export function emfDocuments(
  s: BatchSummary | RoutedBatchSummary,
  functionName: string,
  now = Date.now(),
): Record<string, unknown>[] {
  const routes = 'routes' in s ? Object.entries(s.routes) : [];
  const unrouted = 'routes' in s ? s.unrouted : undefined;
  if (routes.length === 0 && !unrouted) return [emfDocument(s, functionName, now)];
  const perRoute = routes.map(([name, part]) =>
    emf(
      batchMetrics(part),
      [['FunctionName'], ['FunctionName', 'Route']],
      { FunctionName: functionName, Route: name },
      now,
    ),
  );
  const rest = unrouted ? [emf(batchMetrics(unrouted), [['FunctionName']], { FunctionName: functionName }, now)] : [];
  return [...perRoute, ...rest];
}
