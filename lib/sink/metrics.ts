/**
 * CloudWatch metrics as Embedded Metric Format: one JSON line per batch on stdout, which Lambda's
 * log pipeline turns into metrics with no API call and no extra dependency.
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
 */
import type { BatchSummary } from './batch';

export const METRICS_NAMESPACE = 'QuotesSink';

/** The metric names, shared by the handler's EMF line and the emulator's status. */
export const METRIC_NAMES = [
  'RecordsReceived',
  'PostgresWritten',
  'PostgresAlreadyPresent',
  'MongoWritten',
  'MongoAlreadyPresent',
  'DeadLettersWritten',
  'Tombstones',
  'DecodeMs',
  'PostgresMs',
  'MongoMs',
  'BatchMs',
] as const;

export type MetricName = (typeof METRIC_NAMES)[number];

/** The batch's metric values by name (dead letters by kind come as `DeadLetters_<kind>`). */
export function batchMetrics(s: BatchSummary): Record<MetricName, number> & Record<string, number> {
  const byKind = Object.fromEntries(Object.entries(s.deadLettered.byKind).map(([k, n]) => [`DeadLetters_${k}`, n]));
  return {
    RecordsReceived: s.received,
    PostgresWritten: s.postgres.written,
    PostgresAlreadyPresent: s.postgres.alreadyPresent,
    MongoWritten: s.mongo.written,
    MongoAlreadyPresent: s.mongo.alreadyPresent,
    DeadLettersWritten: s.deadLettered.written,
    Tombstones: s.tombstones.received,
    DecodeMs: s.durationMs.decode,
    PostgresMs: s.durationMs.postgres,
    MongoMs: s.durationMs.mongo,
    BatchMs: s.durationMs.total,
    ...byKind,
  };
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
