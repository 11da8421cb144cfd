/** "Does it really serve?" checks, one per service, over real connections. */
import { Kafka, logLevel } from 'kafkajs';
import { MongoClient } from 'mongodb';
import pg from 'pg';
import { brokerList } from '../../lib/config';

/** A Kafka metadata request that lists `topic` (creating it first when `create` is given). */
export async function probeKafka(brokers: string, topic: string, create?: { partitions: number }): Promise<boolean> {
  const kafka = new Kafka({
    clientId: 'quotes-sink-stack',
    brokers: brokerList(brokers),
    logLevel: logLevel.NOTHING,
    connectionTimeout: 2_000,
    requestTimeout: 5_000,
    retry: { retries: 0 },
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    if (create && !(await admin.listTopics()).includes(topic)) {
      await admin.createTopics({
        waitForLeaders: true,
        topics: [{ topic, numPartitions: create.partitions, replicationFactor: 1 }],
      });
    }
    const md = await admin.fetchTopicMetadata({ topics: [topic] });
    const t = md.topics.find((x) => x.name === topic);
    return !!t && t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** `select 1` in the configured database. */
export async function probePostgres(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  try {
    await client.connect();
    const r = await client.query('select 1 as one');
    return r.rows[0]?.one === 1;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A Mongo `ping`. */
export async function probeMongo(url: string): Promise<boolean> {
  const client = new MongoClient(url, { serverSelectionTimeoutMS: 2_000, connectTimeoutMS: 2_000 });
  try {
    await client.connect();
    const r = await client.db('admin').command({ ping: 1 });
    return r.ok === 1;
  } finally {
    await client.close().catch(() => undefined);
  }
}

/**
 * An HTTP GET that answers `status` (default 200) with a body containing `text`, if given. No
 * redirect is followed: a login page would not count as the page itself.
 */
export async function probeHttp(url: string, text?: string, status = 200): Promise<boolean> {
  const res = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(3_000) });
  const body = await res.text();
  return res.status === status && (text === undefined || body.includes(text));
}
