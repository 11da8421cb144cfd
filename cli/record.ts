/**
 * `npm run record -- --out FILE [--topic T] [--group G] [--source msk|self-managed] [--batch-size N]
 * [--wait-ms MS] [--from-beginning]`
 * Reads the next batch from a topic (any topic: KAFKA_TOPIC by default), from where a consumer group
 * (the emulator's, KAFKA_GROUP_ID, by default) stands, without committing anything for that group,
 * and writes it as a Lambda event fixture.
 */
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import type { Admin, Kafka } from 'kafkajs';
import { z } from 'zod';
import { defineCommand, enumFlag, exclusive, intFlag, parseCommand, topicFlag } from '../tools/cli/args';
import { printBanner } from '../tools/cli/banner';
import { runMain } from '../tools/cli/main';
import { checkKafka } from '../tools/cli/reachable';
import { loadConfig, loadStackEnv, type Config } from '../lib/config';
import { QuotesSinkError } from '../lib/errors';
import { buildEvent, fromKafkaMessage } from '../tools/emulator/event';
import type { KafkaEventRecord } from '../lib/event/types';
import { createKafka } from '../tools/kafka';

export const RECORD_COMMAND = defineCommand({
  command: 'npm run record --',
  summary: "Writes the next batch of the topic, from where the emulator's group stands, as a Lambda event fixture.",
  flags: {
    out: { type: 'string', value: 'FILE', help: 'where to write the event (required)' },
    topic: { type: 'string', value: 'T', help: 'the topic to record (default KAFKA_TOPIC, "quotes")' },
    group: { type: 'string', value: 'G', help: 'start where this group stands (default KAFKA_GROUP_ID)' },
    source: { type: 'string', value: 'S', help: 'self-managed (default) or msk: the event shape' },
    'batch-size': { type: 'string', value: 'N', help: 'records to record, 1..10000 (default 100)' },
    'wait-ms': { type: 'string', value: 'MS', help: 'how long to wait for records (default 3000)' },
    'from-beginning': { type: 'boolean', help: 'from the start of the topic, not from the group' },
  },
  schema: z
    .object({
      out: z.string().min(1),
      topic: topicFlag().optional(),
      group: z.string().min(1).optional(),
      source: enumFlag(['self-managed', 'msk']).default('self-managed'),
      'batch-size': intFlag(1, 10_000).default('100'),
      'wait-ms': intFlag(0, 600_000).default('3000'),
      'from-beginning': z.boolean().default(false),
    })
    .strict()
    .superRefine(exclusive('group', 'from-beginning')),
  notes: [
    [
      'Any topic: the event holds its records as the event source mapping would deliver them, whatever',
      'their values; `npm run invoke -- -p FILE` runs the function on it.',
    ].join('\n'),
  ],
});

type Options = z.infer<typeof RECORD_COMMAND.schema>;

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

/** The records to record: from `group`'s committed offsets, or (no group) from the topic's start. */
async function recordBatch(config: Config, topic: string, group: string | undefined, o: Options) {
  const kafka = createKafka(config, 'quotes-sink-recorder');
  const admin = kafka.admin();
  await admin.connect();
  try {
    const start = await startOffsets(admin, topic, group);
    return await readRecords(kafka, admin, topic, start, o['batch-size'], o['wait-ms']);
  } finally {
    await admin.disconnect();
  }
}

async function main(argv: string[]): Promise<number> {
  const o = parseCommand(RECORD_COMMAND, argv);
  loadStackEnv();
  const config = loadConfig();
  const topic = o.topic ?? config.KAFKA_TOPIC;
  const group = o['from-beginning'] ? undefined : (o.group ?? config.KAFKA_GROUP_ID);
  printBanner('record', config, { topic, group });
  await checkKafka(config); // one line within seconds, not kafkajs's retries
  const records = await recordBatch(config, topic, group, o);
  if (records.length === 0) {
    const where = group === undefined ? 'the topic is empty' : `group ${group} has read everything`;
    throw new NothingToRecordError(
      `no records in ${topic} within ${o['wait-ms']} ms (${where}); nothing written${group === undefined ? '' : ': try --from-beginning'}`,
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
