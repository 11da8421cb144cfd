/**
 * `npm run topics -- list | create NAME [--partitions N] | describe NAME [--group G]`: the Kafka
 * topics, which this stack's Kafka never creates on first use. `--help` lists the options.
 */
import type { Admin } from 'kafkajs';
import { z } from 'zod';
import { loadConfig, loadStackEnv, type Config } from '../lib/config';
import { createKafka } from '../tools/kafka';
import { defineCommand, defineGroup, intFlag, parseSubcommand, topicFlag } from '../tools/cli/args';
import { MissingTopicError } from '../tools/cli/errors';
import { runMain } from '../tools/cli/main';
import { missingTopics } from '../tools/cli/reachable';
import { createTopic, describeTopic, listTopics, table, type TopicState } from '../tools/cli/topics';

const topicName = topicFlag();
const NAME = { key: 'name', name: 'NAME', help: 'the topic' };

export const TOPICS = defineGroup({
  command: 'npm run topics --',
  summary: 'Kafka topics at KAFKA_BROKERS: list them, create one, describe one with offsets and lag.',
  notes: ['Kafka here does not create topics on first use: create them before producing to them.'],
  subcommands: {
    list: defineCommand({
      command: 'npm run topics -- list',
      summary: 'Every topic (internal ones left out) with its partitions and the records it keeps.',
      flags: {},
      schema: z.object({}).strict(),
    }),
    create: defineCommand({
      command: 'npm run topics -- create',
      summary: 'Creates a topic and waits for its partition leaders.',
      positionals: [NAME],
      flags: {
        partitions: { type: 'string', value: 'N', help: 'partitions (default 3)' },
        'replication-factor': { type: 'string', value: 'R', help: 'replicas per partition (default 1)' },
        'if-not-exists': { type: 'boolean', help: 'succeed when it exists already (default: exit 1)' },
      },
      schema: z
        .object({
          name: topicName,
          partitions: intFlag(1, 10_000).default('3'),
          'replication-factor': intFlag(1, 32).default('1'),
          'if-not-exists': z.boolean().default(false),
        })
        .strict(),
    }),
    describe: defineCommand({
      command: 'npm run topics -- describe',
      summary: "A topic's partitions: leader, low and high offsets, a consumer group's committed offset and lag.",
      positionals: [NAME],
      flags: { group: { type: 'string', value: 'G', help: 'the consumer group (default KAFKA_GROUP_ID)' } },
      schema: z.object({ name: topicName, group: z.string().min(1).optional() }).strict(),
    }),
  },
});

/** Runs `fn` with a connected admin client (the CLI checked the brokers answer just before). */
async function withAdmin<T>(c: Config, fn: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = createKafka(c, 'quotes-sink-topics').admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

async function list(c: Config): Promise<void> {
  const topics = await withAdmin(c, listTopics);
  if (topics.length === 0) return console.log(`no topics on ${c.KAFKA_BROKERS}`);
  for (const line of table(
    ['topic', 'partitions', 'records'],
    topics.map((t) => [t.topic, t.partitions, t.records]),
  )) {
    console.log(line);
  }
}

async function create(
  c: Config,
  o: { name: string; partitions: number; 'replication-factor': number; 'if-not-exists': boolean },
): Promise<number> {
  const created = await withAdmin(c, (a) => createTopic(a, o.name, o.partitions, o['replication-factor']));
  if (created) {
    console.log(`created topic ${o.name} (${o.partitions} partitions, replication factor ${o['replication-factor']})`);
    return 0;
  }
  const line = `topic ${o.name} exists already on ${c.KAFKA_BROKERS} (left as it is)`;
  if (o['if-not-exists']) {
    console.log(line);
    return 0;
  }
  process.stderr.write(`topics: ${line}\n`);
  return 1;
}

function printTopic(s: TopicState): void {
  console.log(
    `topic ${s.topic}: ${s.partitions.length} partitions, ${s.records} records kept; group ${s.group}: lag ${s.lag}`,
  );
  const rows = s.partitions.map((p) => [p.partition, p.leader, p.low, p.high, p.committed ?? '-', p.lag]);
  for (const line of table(['partition', 'leader', 'low', 'high', 'committed', 'lag'], rows)) console.log(line);
  if (s.partitions.every((p) => p.committed === undefined)) {
    console.log(`(group ${s.group} has committed no offsets here: lag counts from the low offset)`);
  }
}

async function main(argv: string[]): Promise<number> {
  const cmd = parseSubcommand(TOPICS, argv);
  loadStackEnv();
  const c = loadConfig();
  // The brokers are asked once with short timeouts: a wrong address is named in seconds.
  const missing = await missingTopics(c, cmd.name === 'list' || cmd.name === 'create' ? [] : [cmd.options.name]);
  if (missing.length) throw new MissingTopicError(missing[0], c.KAFKA_BROKERS);
  switch (cmd.name) {
    case 'list':
      await list(c);
      return 0;
    case 'create':
      return create(c, cmd.options);
    case 'describe':
      printTopic(await withAdmin(c, (a) => describeTopic(a, cmd.options.name, cmd.options.group ?? c.KAFKA_GROUP_ID)));
      return 0;
  }
}

runMain('topics', main);
