/**
 * Start-up checks for the command lines: each service is asked once, with short timeouts, before
 * any work starts, so an unreachable broker, a wrong password or a missing topic is one line
 * naming it within seconds (instead of the clients' own retries: 30 s and more for kafkajs).
 * The checks use the config's TLS and SASL settings, like the clients that follow them.
 */
import { Kafka, type Admin } from 'kafkajs';
import { MongoClient } from 'mongodb';
import pg from 'pg';
import type { Config } from '../../lib/config';
import { kafkaOptions } from '../kafka';
import { mongoOptions } from '../../lib/mongo/store';
import { postgresSsl } from '../../lib/postgres/store';
import { MissingTopicError, ServicesUnreachableError, UnreachableError, type Service } from './errors';

/** How long each check may wait for a connection. */
export const CHECK_TIMEOUT_MS = 2_500;

/** A kafkajs client for checks: the config's brokers, TLS and SASL; short timeouts, one retry. */
export function checkingKafka(c: Config): Kafka {
  return new Kafka({
    ...kafkaOptions(c, 'quotes-sink-check'),
    connectionTimeout: CHECK_TIMEOUT_MS,
    requestTimeout: 5_000,
    retry: { retries: 1, initialRetryTime: 200, maxRetryTime: 1_000 },
  });
}

/**
 * Runs `fn` with a connected admin client of {@link checkingKafka}; a failure to connect or of
 * `fn`'s requests is an {@link UnreachableError} naming the brokers. Errors of ours pass through.
 */
export async function withCheckingAdmin<T>(c: Config, fn: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = checkingKafka(c).admin();
  try {
    await admin.connect();
    return await fn(admin);
  } catch (e) {
    if (e instanceof MissingTopicError) throw e;
    throw new UnreachableError('kafka', c.KAFKA_BROKERS, e);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** Whether the brokers answer a metadata request; throws {@link UnreachableError} if not. */
export const checkKafka = (c: Config): Promise<void> => withCheckingAdmin(c, async (a) => void (await a.listTopics()));

/** Which of `topics` the cluster lacks (after checking it answers). */
export async function missingTopics(c: Config, topics: readonly string[]): Promise<string[]> {
  const existing = new Set(await withCheckingAdmin(c, (a) => a.listTopics()));
  return topics.filter((t) => !existing.has(t));
}

/** A `select 1` over a new connection (the config's TLS), or {@link UnreachableError} with pg's reason. */
export async function checkPostgres(c: Config): Promise<void> {
  const client = new pg.Client({
    connectionString: c.POSTGRES_URL,
    connectionTimeoutMillis: Math.min(c.POSTGRES_CONNECT_TIMEOUT_MS, CHECK_TIMEOUT_MS),
    query_timeout: 5_000,
    ssl: postgresSsl(c),
  });
  // An error event after a failed connect must not crash the process.
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('select 1');
  } catch (e) {
    throw new UnreachableError('postgres', c.POSTGRES_URL, e);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A Mongo `ping` (the config's TLS), or {@link UnreachableError} with the driver's reason. */
export async function checkMongo(c: Config): Promise<void> {
  const client = new MongoClient(c.MONGO_URL, {
    ...mongoOptions(c),
    serverSelectionTimeoutMS: CHECK_TIMEOUT_MS,
    connectTimeoutMS: CHECK_TIMEOUT_MS,
  });
  try {
    await client.connect();
    await client.db(c.MONGO_DATABASE).command({ ping: 1 });
  } catch (e) {
    throw new UnreachableError('mongo', c.MONGO_URL, e);
  } finally {
    await client.close().catch(() => undefined);
  }
}

const CHECKS: Readonly<Record<Service, (c: Config) => Promise<void>>> = {
  kafka: checkKafka,
  postgres: checkPostgres,
  mongo: checkMongo,
};

/**
 * Checks `services` at once; throws the one {@link UnreachableError}, or a
 * {@link ServicesUnreachableError} listing each when several fail.
 */
export async function reachable(c: Config, services: readonly Service[]): Promise<void> {
  const results = await Promise.allSettled(services.map((s) => CHECKS[s](c)));
  const errors = results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
  const unreachable = errors.filter((e): e is UnreachableError => e instanceof UnreachableError);
  if (unreachable.length !== errors.length) throw errors.find((e) => !(e instanceof UnreachableError));
  if (unreachable.length === 1) throw unreachable[0];
  if (unreachable.length > 1) throw new ServicesUnreachableError(unreachable);
}
