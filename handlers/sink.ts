/**
 * The Lambda function `sink`: MSK / self-managed Kafka event → PostgreSQL + MongoDB.
 * Thin on purpose: decode → validate → write → report all live in lib/sink/batch.ts.
 *
 * Connections are created lazily at module scope, so a warm container reuses them; a failed batch
 * throws, so the event source mapping retries it (writes are idempotent on Kafka coordinates).
 */
import { existsSync } from 'node:fs';
import { loadConfig, loadStackEnv, type Config } from '../lib/config';
import { createLogger } from '../lib/log';
import { quoteType } from '../lib/records/quote';
import type { RecordType } from '../lib/records/record-type';
import { processBatch, type BatchSummary } from '../lib/sink/batch';
import { MongoStore } from '../lib/sink/mongo';
import { PostgresStore } from '../lib/sink/postgres';

interface Container {
  config: Config;
  postgres: PostgresStore;
  mongo: MongoStore;
}

let container: Container | undefined;
const log = createLogger();

/** Config and stores, once per container. Locally `.stack/env` fills in the stack's addresses. */
function getContainer(): Container {
  if (!container) {
    if (!process.env.AWS_LAMBDA_FUNCTION_NAME || process.env.IS_OFFLINE || process.env.IS_LOCAL) loadStackEnv();
    const config = loadConfig();
    container = {
      config,
      postgres: new PostgresStore(config, quoteType as RecordType<unknown>),
      mongo: new MongoStore(config),
    };
  }
  return container;
}

/**
 * Test-only fault injection: die between the Postgres and the Mongo write while
 * SINK_FAULT_AFTER_POSTGRES=1, or while the file named by SINK_FAULT_FILE exists (so a test can
 * switch it on and off in a running emulator). Unset in every real deployment.
 */
function faultAfterPostgres(): boolean {
  const file = process.env.SINK_FAULT_FILE;
  return process.env.SINK_FAULT_AFTER_POSTGRES === '1' || (!!file && existsSync(file));
}

/** Lambda entry point. */
export async function handler(event: unknown): Promise<BatchSummary> {
  const c = getContainer();
  try {
    const summary = await processBatch(event, quoteType, c, {
      tombstones: c.config.TOMBSTONES,
      writeChunk: c.config.SINK_WRITE_CHUNK,
      failAfterPostgres: faultAfterPostgres(),
    });
    log.info({ summary }, 'batch written');
    return summary;
  } catch (err) {
    log.error({ err }, 'batch failed');
    throw err;
  } finally {
    // `serverless invoke local` is a one-shot process that waits for open sockets: let it exit.
    if (process.env.IS_LOCAL === 'true') await closeConnections();
  }
}

/** Closes the container's connections (tests and the local emulator; Lambda never calls it). */
export async function closeConnections(): Promise<void> {
  const c = container;
  container = undefined;
  await Promise.all([c?.postgres.close(), c?.mongo.close()]);
}
