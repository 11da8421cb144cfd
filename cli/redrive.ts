/**
 * `npm run redrive -- --from kafka://TOPIC | --from-dir DIR [--to TOPIC]`: puts the records an
 * on-failure destination holds back on the source topic, each carrying its original identity, so
 * that the sink stores each once (tools/replay/redrive.ts).
 */
import { z } from 'zod';
import { defineCommand, exclusive, kafkaDestinationFlag, parseCommand } from '../tools/cli/args';
import { printBanner } from '../tools/cli/banner';
import { UsageError } from '../tools/cli/errors';
import { runMain } from '../tools/cli/main';
import { checkKafka } from '../tools/cli/reachable';
import { loadConfig, loadStackEnv } from '../lib/config';
import { requireIdentityKey } from '../lib/event/identity';
import { redriveFolder, redriveTopic, type RedriveResult, type SkippedEntry } from '../tools/replay/redrive';
import { clusterIdOf, createKafka } from '../tools/kafka';

/** Everything valid was sent, but some entries were skipped: someone should look at them. */
export const EXIT_SKIPPED = 3;

const schema = z
  .object({
    from: kafkaDestinationFlag().optional(),
    'from-dir': z.string().min(1).optional(),
    to: z.string().min(1).optional(),
    group: z.string().min(1).optional(),
  })
  .strict()
  .superRefine(exclusive('from', 'from-dir'));

export const REDRIVE_COMMAND = defineCommand({
  command: 'npm run redrive --',
  summary:
    'Re-publishes the records held by an on-failure destination to the source topic, each with its original identity.',
  flags: {
    from: {
      type: 'string',
      value: 'kafka://TOPIC',
      help: 'a Kafka destination topic (read with a consumer group, committed after each message)',
    },
    'from-dir': {
      type: 'string',
      value: 'DIR',
      help: 'a folder of S3 invocation records (each moved to DIR/redriven once sent)',
    },
    to: { type: 'string', value: 'TOPIC', help: "the topic to send to (default: each record's own topic)" },
    group: { type: 'string', value: 'ID', help: 'consumer group for --from (default quotes-sink-redrive-<TOPIC>)' },
  },
  schema,
  notes: [
    'Running it twice sends nothing twice; the sink stores a record redriven twice once anyway.',
    'Two runs at once on one group share the partitions; both end once the group committed the ends (at least once).',
    'An entry that is not an invocation record is skipped with one line naming it (a file is left in place).',
    `Exit codes: 0 all sent; ${EXIT_SKIPPED} all valid entries sent, some skipped; 1 a failure (rerun: it resumes); 2 usage.`,
  ],
});

async function main(argv: string[]): Promise<number> {
  const o = parseCommand(REDRIVE_COMMAND, argv);
  if (!o.from && !o['from-dir']) throw new UsageError('give --from kafka://TOPIC or --from-dir DIR');
  loadStackEnv();
  const config = loadConfig();
  const kafka = createKafka(config, 'quotes-sink-redrive');
  const from = o.from?.slice('kafka://'.length);
  printBanner('redrive', config, { topic: o.to ?? config.KAFKA_TOPIC });
  await checkKafka(config); // one line within seconds, not kafkajs's retries
  const resender = { key: requireIdentityKey(config), clusterId: await clusterIdOf(config, kafka) };
  const producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const onSkip = (s: SkippedEntry) =>
    console.log(
      `skipped ${s.where}: not an on-failure invocation record (${s.reason})${from ? '' : ', left in place'}`,
    );
  let r: RedriveResult;
  try {
    r = from
      ? await redriveTopic(kafka, producer, from, o.group ?? `quotes-sink-redrive-${from}`, resender, o.to, onSkip)
      : await redriveFolder(producer, o['from-dir'] as string, resender, o.to, onSkip);
  } finally {
    await producer.disconnect();
  }
  const source = from ? `kafka://${from}` : o['from-dir'];
  const skipped = r.skipped.length ? `; skipped ${r.skipped.length} not invocation records` : '';
  console.log(`redriven ${r.records} records from ${r.entries} ${from ? 'messages' : 'files'} of ${source}${skipped}`);
  return r.skipped.length ? EXIT_SKIPPED : 0;
}

if (require.main === module) runMain('redrive', main);
