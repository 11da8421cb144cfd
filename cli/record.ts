/**
 * `npm run record -- --out FILE [--source msk|self-managed] [--batch-size N] [--wait-ms MS] [--from-beginning]`
 * Reads the next batch from the topic, from where the emulator's group (KAFKA_GROUP_ID) stands,
 * without committing anything for that group, and writes it as a Lambda event fixture.
 */
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import type { Admin, Kafka } from 'kafkajs';
import { z } from 'zod';
import { defineCommand, enumFlag, intFlag, parseCommand } from '../tools/cli/args';
import { printBanner } from '../tools/cli/banner';
import { runMain } from '../tools/cli/main';
import { checkKafka } from '../tools/cli/reachable';
import { loadConfig, loadStackEnv } from '../lib/config';
import { QuotesSinkError } from '../lib/errors';
import { buildEvent, fromKafkaMessage } from '../tools/emulator/event';
import type { KafkaEventRecord } from '../lib/event/types';
import { createKafka } from '../tools/kafka';

export const RECORD_COMMAND = defineCommand({
  command: 'npm run record --',
  summary: "Writes the next batch of the topic, from where the emulator's group stands, as a Lambda event fixture.",
  flags: {
    out: { type: 'string', value: 'FILE', help: 'where to write the event (required)' },
    source: { type: 'string', value: 'S', help: 'self-managed (default) or msk: the event shape' },
    'batch-size': { type: 'string', value: 'N', help: 'records to record, 1..10000 (default 100)' },
    'wait-ms': { type: 'string', value: 'MS', help: 'how long to wait for records (default 3000)' },
    'from-beginning': { type: 'boolean', help: 'from the start of the topic, not from the group' },
  },
  schema: z
    .object({
      out: z.string().min(1),
      source: enumFlag(['self-managed', 'msk']).default('self-managed'),
      'batch-size': intFlag(1, 10_000).default('100'),
      'wait-ms': intFlag(0, 600_000).default('3000'),
      'from-beginning': z.boolean().default(false),
    })
    .strict(),
});

/** Nothing to record: the group has read everything (exit 1, saying what to do). */
export class NothingToRecordError extends QuotesSinkError {}

/** Where to start in each partition: the group's committed offset, or the low watermark. */
async function startOffsets(admin: Admin, topic: string, group: string | undefined): Promise<Map<number, string>> {
  const committed = group ? await admin.fetchOffsets({ groupId: group, topics: [topic] }) : [];
  const start = new Map<number, string>();
  for (const p of await admin.fetchTopicOffsets(topic)) {
    const c = committed[0]?.partitions.find((x) => x.partition === p.partition)?.offset;
    start.set(p.partition, c !== undefined && Number(c) >= 0 ? c : p.low);
  }
  return start;
}

/** Reads up to `max` records from `start`, with a throwaway group (deleted afterwards). */
async function readRecords(
  kafka: Kafka,
  admin: Admin,
  topic: string,
  start: Map<number, string>,
  max: number,
  waitMs: number,
): Promise<KafkaEventRecord[]> {
  const groupId = `quotes-sink-recorder-${randomUUID()}`;
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 200 });
  const records: KafkaEventRecord[] = [];
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ partition, message: m }) => {
      if (records.length < max) records.push(fromKafkaMessage(topic, partition, m));
      if (records.length >= max) resolveDone();
    },
  });
  for (const [partition, offset] of start) consumer.seek({ topic, partition, offset });
  await Promise.race([done, new Promise((r) => setTimeout(r, waitMs))]);
  await consumer.disconnect();
  await admin.deleteGroups([groupId]).catch(() => undefined);
  return records.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
}

async function main(argv: string[]): Promise<number> {
  const o = parseCommand(RECORD_COMMAND, argv);
  loadStackEnv();
  const config = loadConfig();
  const topic = config.KAFKA_TOPIC;
  printBanner('record', config, { topic, group: o['from-beginning'] ? undefined : config.KAFKA_GROUP_ID });
  await checkKafka(config); // one line within seconds, not kafkajs's retries
  const kafka = createKafka(config, 'quotes-sink-recorder');
  const admin = kafka.admin();
  await admin.connect();
  let records: KafkaEventRecord[];
  try {
    const start = await startOffsets(admin, topic, o['from-beginning'] ? undefined : config.KAFKA_GROUP_ID);
    records = await readRecords(kafka, admin, topic, start, o['batch-size'], o['wait-ms']);
  } finally {
    await admin.disconnect();
  }
  if (records.length === 0) {
    const where = o['from-beginning'] ? 'the topic is empty' : `group ${config.KAFKA_GROUP_ID} has read everything`;
    throw new NothingToRecordError(
      `no records in ${topic} within ${o['wait-ms']} ms (${where}); nothing written${o['from-beginning'] ? '' : ': try --from-beginning'}`,
    );
  }
  const event = buildEvent(o.source, config.KAFKA_BROKERS, records);
  writeFileSync(o.out, `${JSON.stringify(event, null, 2)}\n`);
  console.log(
    `recorded ${records.length} records from ${Object.keys(event.records).length} partitions of ${topic} to ${o.out} (${o.source})`,
  );
  return 0;
}

if (require.main === module) runMain('record', main);
