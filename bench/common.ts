/** What the benchmark scripts share: the synthetic records they write, and dropping what they wrote. */
import { MongoClient } from 'mongodb';
import pg from 'pg';
import type { Config } from '../lib/config';
import { toEventRecord } from '../lib/event/build';
import type { KafkaEventRecord } from '../lib/event/types';
import { syntheticMessages } from '../lib/producer/publish';

/** `n` synthetic quotes on topic `quotes` as event records; `place(i)` gives record i its partition and offset. */
export function syntheticRecords(n: number, seed: number, place: (i: number) => { partition: number; offset: number }): KafkaEventRecord[] {
  const out: KafkaEventRecord[] = [];
  let i = 0;
  for (const m of syntheticMessages(n, seed, 0, { key: true, source: 'bench' })) {
    out.push(toEventRecord({ topic: 'quotes', ...place(i), timestamp: 1_700_000_000_000 + i, key: m.key as string, value: m.value as string, headers: m.headers as Record<string, string> }));
    i++;
  }
  return out;
}

/** Drops the tables and collections these configs point at (one connection per store). */
export async function dropStores(configs: Config[]): Promise<void> {
  if (configs.length === 0) return;
  const client = new pg.Client({ connectionString: configs[0].POSTGRES_URL });
  await client.connect();
  const mongo = await MongoClient.connect(configs[0].MONGO_URL);
  try {
    for (const c of configs) {
      await client.query(`drop table if exists "${c.POSTGRES_QUOTES_TABLE}", "${c.POSTGRES_DEAD_LETTER_TABLE}"`);
      await mongo.db(c.MONGO_DATABASE).collection(c.MONGO_COLLECTION).drop().catch(() => undefined);
    }
  } finally {
    await client.end();
    await mongo.close();
  }
}
