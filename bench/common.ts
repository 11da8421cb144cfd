/**
 * What the benchmark scripts (bench/run.ts, bench/memory.ts, bench/soak.ts) share: the synthetic
 * records they write, their topics, an RSS sampler, dropping what they wrote and writing results.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Admin } from 'kafkajs';
import { MongoClient } from 'mongodb';
import pg from 'pg';
import { parse } from 'yaml';
import { PROJECT_ROOT, type Config } from '../lib/config';
import { toEventRecord } from '../tools/emulator/event';
import type { KafkaEventRecord } from '../lib/event/types';
import { syntheticMessages } from '../tools/producer/publish';
import { qualifiedTable } from '../lib/postgres/names';

/**
 * The V8 and Node options the deployed function runs with (NODE_OPTIONS in serverless.yml): the
 * benchmark runs the handler with the same, so its memory and CPU are the function's.
 */
export function functionNodeOptions(): string[] {
  const yml = parse(readFileSync(path.join(PROJECT_ROOT, 'serverless.yml'), 'utf8')) as {
    provider?: { environment?: { NODE_OPTIONS?: string } };
  };
  return (yml.provider?.environment?.NODE_OPTIONS ?? '').split(/\s+/).filter(Boolean);
}

/** Where every run writes its JSON results. */
export const RESULTS_DIR = path.join(PROJECT_ROOT, 'bench', 'results');

/**
 * `n` synthetic quotes on topic `quotes` as event records; `place(i)` gives record i its partition
 * and offset.
 */
export function syntheticRecords(
  n: number,
  seed: number,
  place: (i: number) => { partition: number; offset: number },
): KafkaEventRecord[] {
  const out: KafkaEventRecord[] = [];
  let i = 0;
  for (const m of syntheticMessages(n, seed, 0, { key: true, source: 'bench' })) {
    out.push(
      toEventRecord({
        topic: 'quotes',
        ...place(i),
        timestamp: 1_700_000_000_000 + i,
        key: m.key as string,
        value: m.value as string,
        headers: m.headers as Record<string, string>,
      }),
    );
    i++;
  }
  return out;
}

/**
 * Creates `topic` with `partitions` partitions (three, like `quotes`) and waits for its leaders, so
 * the first produce does not race the election.
 */
export async function createTopic(admin: Admin, topic: string, partitions = 3): Promise<void> {
  await admin.createTopics({
    waitForLeaders: true,
    topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }],
  });
}

/**
 * Drops the tables (in POSTGRES_SCHEMA) and collections these configs point at, over one
 * connection per store. All configs must share the same servers.
 */
export async function dropStores(configs: readonly Config[]): Promise<void> {
  if (configs.length === 0) return;
  const client = new pg.Client({ connectionString: configs[0].POSTGRES_URL });
  await client.connect();
  try {
    const mongo = await MongoClient.connect(configs[0].MONGO_URL);
    try {
      for (const c of configs) {
        const roles = ['records', 'deadLetters', 'tombstones', 'clusters'] as const;
        await client.query(`drop table if exists ${roles.map((r) => qualifiedTable(c, r)).join(', ')}`);
        // A collection never written to does not exist; that is fine here.
        await mongo
          .db(c.MONGO_DATABASE)
          .collection(c.MONGO_COLLECTION)
          .drop()
          .catch(() => undefined);
      }
    } finally {
      await mongo.close();
    }
  } finally {
    await client.end();
  }
}

/** The RSS of this process when the watch started, and the highest seen until it stopped (bytes). */
export interface RssWatch {
  baseline: number;
  peak: number;
}

/**
 * Samples this process's RSS every `everyMs` until `stop()`, which returns the baseline and the
 * peak. Timer sampling misses short spikes; a small interval keeps that error small.
 */
export function watchRss(everyMs: number): { stop(): RssWatch } {
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), everyMs);
  return {
    stop: () => {
      clearInterval(sampler);
      return { baseline, peak: Math.max(peak, process.memoryUsage().rss) };
    },
  };
}

/**
 * Writes `result` as pretty JSON to bench/results/<prefix><date>.json and, when given, to
 * bench/results/<latest> (some of which are tracked); returns the dated file's path.
 */
export function writeResult(result: { date: string }, prefix: string, latest?: string): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const json = `${JSON.stringify(result, null, 2)}\n`;
  const dated = path.join(RESULTS_DIR, `${prefix}${result.date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(dated, json);
  if (latest) writeFileSync(path.join(RESULTS_DIR, latest), json);
  return dated;
}
