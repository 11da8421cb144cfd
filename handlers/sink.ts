/**
 * The Lambda function `sink`: MSK / self-managed Kafka event → PostgreSQL + MongoDB.
 * Thin on purpose: decode → validate → write → report live in lib/sink/batch.ts.
 *
 * This is the composition root: it builds the config, the logger and the stores (and so their
 * clients) once per container, lazily, so a warm container reuses them. A failed batch throws,
 * so the event source mapping retries it (writes are idempotent on Kafka coordinates).
 */
import type { Context } from 'aws-lambda';
import { loadConfig, loadStackEnv, type Config } from '../lib/config';
import { createLogger, type Logger } from '../lib/log';
import type { Quote } from '../lib/records/quote';
import { QUOTES_ROUTE, quotesRoute, routeTargets } from '../lib/routes/default';
import { IncompleteBatchError, type BatchItemFailure } from '../lib/sink/batch';
import { emfDocuments } from '../lib/sink/metrics';
import { routeStores, type RoutedStores, type Stores } from '../lib/sink/port';
import { processRoutedBatch, type RoutedBatchSummary } from '../lib/sink/route';
import { openRouteStores } from '../lib/stores';

/** What one handler instance works with: `routed`, or `stores` for the quotes route alone. */
export interface SinkDependencies {
  config: Config;
  log: Logger;
  /** Every route's record stores and the dead-letter store (the container's: every route of the sink file). */
  routed?: RoutedStores;
  /**
   * The stores of the quotes route alone (its record type, on KAFKA_TOPIC): what tests and tools
   * that sink quotes pass; records of any other topic are dead letters of kind `route`.
   */
  stores?: Stores<Quote>;
  /** Where the metrics lines go (stdout in Lambda, where EMF is read). */
  emit?: (line: string) => void;
}

/** What the function answers: the batch's summary, or the records to retry (partial batch response). */
export type SinkResponse = RoutedBatchSummary | { batchItemFailures: BatchItemFailure[] };

/** The routes a handler writes: `deps.routed`, else the quotes route over `deps.stores`. */
function routedStores(deps: SinkDependencies): RoutedStores {
  if (deps.routed) return deps.routed;
  if (!deps.stores) throw new TypeError('createSinkHandler needs routed or stores');
  const quotes = routeStores({
    name: QUOTES_ROUTE,
    topic: deps.config.KAFKA_TOPIC,
    type: quotesRoute(),
    records: deps.stores.records,
  });
  return { routes: [quotes], deadLetters: deps.stores.deadLetters };
}

/** The Lambda context fields every log line carries. */
function contextFields(context: Partial<Context> | undefined, coldStart: boolean): Record<string, unknown> {
  if (!context?.awsRequestId) return { coldStart };
  return {
    requestId: context.awsRequestId,
    functionArn: context.invokedFunctionArn,
    functionVersion: context.functionVersion,
    coldStart,
  };
}

/** The Lambda handler over given dependencies (tests and the emulator pass decorated stores). */
export function createSinkHandler(
  deps: SinkDependencies,
): (event: unknown, context?: Partial<Context>) => Promise<SinkResponse> {
  let coldStart = true;
  // The routes of the sink file, compiled by the build into the bundle.
  const routed = routedStores(deps);
  const emit = deps.emit ?? ((line: string) => process.stdout.write(`${line}\n`));
  return async (event, context) => {
    const log = deps.log.child(contextFields(context, coldStart));
    coldStart = false;
    try {
      const summary = await processRoutedBatch(event, routed, {
        tombstones: deps.config.TOMBSTONES,
        writeChunk: deps.config.SINK_WRITE_CHUNK,
        partialResponse: deps.config.SINK_PARTIAL_BATCH_RESPONSE,
        identityKey: deps.config.SINK_IDENTITY_KEY,
        clusterId: deps.config.SINK_CLUSTER_ID,
      });
      for (const warning of summary.warnings ?? []) log.warn(warning);
      log.info({ summary }, 'batch written');
      for (const doc of emfDocuments(summary, context?.functionName ?? 'quotes-sink-local')) emit(JSON.stringify(doc));
      return summary;
    } catch (err) {
      if (err instanceof IncompleteBatchError) {
        log.warn({ err, batchItemFailures: err.batchItemFailures }, 'batch incomplete: reporting item failures');
        return { batchItemFailures: err.batchItemFailures };
      }
      log.error({ err }, 'batch failed');
      throw err;
    }
  };
}

interface Container {
  handle: (event: unknown, context?: Partial<Context>) => Promise<SinkResponse>;
  close: () => Promise<void>;
}

let container: Container | undefined;

/** Config, logger and every route's stores, once per container. Locally `.stack/env` fills in the stack's addresses. */
function getContainer(): Container {
  if (!container) {
    // Not deployed (invoke local, serverless-offline): the local stack's addresses apply.
    if (!process.env.AWS_LAMBDA_FUNCTION_NAME || process.env.IS_OFFLINE || process.env.IS_LOCAL) loadStackEnv();
    const config = loadConfig();
    // Every route of the sink file, on one pool and one client; the quotes route named by the config.
    const routed = openRouteStores(config, routeTargets(config));
    container = {
      handle: createSinkHandler({ config, log: createLogger(config.LOG_LEVEL), routed }),
      close: routed.close,
    };
  }
  return container;
}

/** Lambda entry point. */
export async function handler(event: unknown, context?: Partial<Context>): Promise<SinkResponse> {
  try {
    return await getContainer().handle(event, context);
  } finally {
    // `serverless invoke local` is a one-shot process that waits for open sockets: let it exit.
    if (process.env.IS_LOCAL === 'true') await closeConnections();
  }
}

/** Closes the container's connections (tests and the local emulator; Lambda never calls it). */
export async function closeConnections(): Promise<void> {
  const c = container;
  container = undefined;
  await c?.close();
}
