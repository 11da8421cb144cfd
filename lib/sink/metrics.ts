/**
 * CloudWatch metrics as Embedded Metric Format: one JSON line per batch on stdout, which Lambda's
 * log pipeline turns into metrics with no API call and no extra dependency.
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
 */
import { STORE_NAMES } from '../config';
import type { BatchSummary } from './batch';
import type { StoreName } from './port';

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
export function batchMetrics(s: BatchSummary): Record<string, number> {
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

/** One EMF document for a batch, with the function name as the dimension. */
export function emfDocument(s: BatchSummary, functionName: string, now = Date.now()): Record<string, unknown> {
  const values = batchMetrics(s);
  const unit = (name: string) => (name.endsWith('Ms') ? 'Milliseconds' : 'Count');
  return {
    _aws: {
      Timestamp: now,
      CloudWatchMetrics: [
        {
          Namespace: METRICS_NAMESPACE,
          Dimensions: [['FunctionName']],
          Metrics: Object.keys(values).map((Name) => ({ Name, Unit: unit(Name) })),
        },
      ],
    },
    FunctionName: functionName,
    ...values,
  };
}
