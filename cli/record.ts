/**
 * `npm run record -- --out FILE [--source msk|self-managed] [--batch-size N] [--wait-ms MS] [--from-beginning]`
 * Reads the next batch from the topic, from where the emulator's group (KAFKA_GROUP_ID) stands,
 * without committing anything for that group, and writes it as a Lambda event fixture.
 */
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfig, loadStackEnv } from '../lib/config';
import { buildEvent, fromKafkaMessage } from '../lib/event/build';
import type { KafkaEventRecord } from '../lib/event/types';
import { createKafka } from '../lib/kafka';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      out: { type: 'string' },
      source: { type: 'string', default: 'self-managed' },
      'batch-size': { type: 'string', default: '100' },
      'wait-ms': { type: 'string', default: '3000' },
      'from-beginning': { type: 'boolean', default: false },
    },
  });
  if (!values.out) throw new Error('--out FILE is required');
  if (values.source !== 'msk' && values.source !== 'self-managed') throw new Error('--source is msk or self-managed');
  loadStackEnv();
  const config = loadConfig();
  const topic = config.KAFKA_TOPIC;
  const max = Number(values['batch-size']);
  const kafka = createKafka(config, 'quotes-sink-recorder');
  const admin = kafka.admin();
  await admin.connect();
  const start = new Map<number, string>();
  const committed = values['from-beginning']
    ? []
    : await admin.fetchOffsets({ groupId: config.KAFKA_GROUP_ID, topics: [topic] });
  const low = await admin.fetchTopicOffsets(topic);
  for (const p of low) {
    const c = committed[0]?.partitions.find((x) => x.partition === p.partition)?.offset;
    start.set(p.partition, c !== undefined && Number(c) >= 0 ? c : p.low);
  }

  // A throwaway group, deleted afterwards: the emulator's group is never touched.
  const groupId = `quotes-sink-recorder-${randomUUID()}`;
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 200 });
  const records: KafkaEventRecord[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ partition, message: m }) => {
      if (records.length >= max) return resolveDone();
      records.push(fromKafkaMessage(topic, partition, m));
      if (records.length >= max) resolveDone();
    },
  });
  for (const [partition, offset] of start) consumer.seek({ topic, partition, offset });
  await Promise.race([done, new Promise((r) => setTimeout(r, Number(values['wait-ms'])))]);
  await consumer.disconnect();
  await admin.deleteGroups([groupId]).catch(() => undefined);
  await admin.disconnect();

  records.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
  const event = buildEvent(values.source, config.KAFKA_BROKERS, records);
  writeFileSync(values.out, `${JSON.stringify(event, null, 2)}\n`);
  console.log(
    `recorded ${records.length} records from ${Object.keys(event.records).length} partitions of ${topic} to ${values.out} (${values.source})`,
  );
}

main().then(
  () => process.exit(0),
  (e: Error) => {
    console.error(`record failed: ${e.message}`);
    process.exit(1);
  },
);
