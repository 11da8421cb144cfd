/**
 * `npm start`: the whole pipeline once, end to end. Brings the stack up, creates the schema,
 * publishes the sample quotes (the NiFi step), runs the emulator until the topic is drained (the
 * Lambda step), then prints what is in PostgreSQL, MongoDB and the dead-letter table.
 */
import { MongoClient } from 'mongodb';
import pg from 'pg';
import { constants } from 'node:os';
import { z } from 'zod';
import { DEFAULTS, loadConfig, loadStackEnv, redactUrl, type Config } from '../lib/config';
import { defineCommand, parseCommand } from '../lib/cli/args';
import { runMain } from '../lib/cli/main';
import { closeConnections, handler } from '../handlers/sink';
import { Emulator, type EmulatorStatus } from '../lib/emulator/emulator';
import { inProcessInvoker } from '../lib/emulator/invoke';
import { createKafka } from '../lib/kafka';
import { createLogger, type Logger } from '../lib/log';
import { SAMPLE_FILE, publish, quoteMessages, readQuotes } from '../lib/producer/publish';
import { quotesRoute } from '../lib/routes/default';
import { openStores } from '../lib/sink/stores';
import { qualifiedTable } from '../lib/sink/tables';
import { up, type Mode } from '../lib/stack/stack';

export const DEMO = defineCommand({
  command: 'npm start --',
  summary: [
    'The whole pipeline once: stack up, schema, the 120 sample quotes produced to KAFKA_TOPIC, the',
    'emulator until the topic is drained, then the counts in PostgreSQL, MongoDB and the dead letters,',
    'and where to look. Run it again and 120 more records flow through.',
  ].join('\n'),
  flags: {},
  schema: z.object({}).strict(),
});

const step = (m: string) => console.log(`\n== ${m}`);

/** `url` without its password (psql then asks for it), and whether it had one. */
function withoutPassword(url: string): { url: string; had: boolean } {
  try {
    const u = new URL(url);
    if (!u.password) return { url, had: false };
    u.password = '';
    return { url: u.toString(), had: true };
  } catch {
    return { url: redactUrl(url), had: true };
  }
}

/** Where to look after the run: the web UIs (docker), else commands; no password is printed. */
function whereToLook(mode: Mode, config: Config): string[] {
  if (mode === 'docker') {
    return [
      `Kafka UI       http://localhost:${DEFAULTS.ui.kafkaUi}`,
      `pgAdmin        http://localhost:${DEFAULTS.ui.pgadmin}  (server already registered)`,
      `mongo-express  http://localhost:${DEFAULTS.ui.mongoExpress}`,
    ];
  }
  const pgUrl = withoutPassword(config.POSTGRES_URL);
  const sql = `select character, quote from ${qualifiedTable(config, 'records')} limit 5`;
  const mongoUrl = redactUrl(config.MONGO_URL);
  const find = `c.db('${config.MONGO_DATABASE}').collection('${config.MONGO_COLLECTION}').findOne()`;
  const lines = [
    `psql "${pgUrl.url}" -c '${sql}'${pgUrl.had ? '   (it asks for the password in POSTGRES_URL)' : ''}`,
    `node -e "require('mongodb').MongoClient.connect('${mongoUrl}').then(async c => { console.log(await ${find}); await c.close() })"`,
    `npm run topics -- describe ${config.KAFKA_TOPIC}   npm run dead-letters -- list`,
  ];
  if (mongoUrl !== config.MONGO_URL) lines.push('(put the password from MONGO_URL in place of *** above)');
  if (mode === 'native') lines.push('logs: .stack/logs/   stop: npm run stack -- down');
  return lines;
}

/** The signal that stopped the emulator step, if one did: the demo then exits 128 + its number. */
let stoppedBy: NodeJS.Signals | undefined;

/** Runs the emulator until every partition is drained, as `npm run local -- --until-idle` does. */
async function drain(config: Config, log: Logger): Promise<EmulatorStatus> {
  const emulator = new Emulator({
    kafka: createKafka(config, 'quotes-sink-emulator'),
    invoke: inProcessInvoker(handler, closeConnections),
    log,
    topic: config.KAFKA_TOPIC,
    groupId: config.KAFKA_GROUP_ID,
    bootstrapServers: config.KAFKA_BROKERS,
    startingPosition: 'TRIM_HORIZON',
    batchSize: 100,
    windowMs: 500,
    source: 'self-managed',
    retry: { attempts: 5, baseMs: 200, capMs: 5_000 },
    stopWhen: { idleMs: 1_500 },
  });
  const onSignal = (sig: NodeJS.Signals) => {
    stoppedBy ??= sig;
    emulator.stop(sig);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await emulator.run();
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

async function main(argv: string[]): Promise<number> {
  parseCommand(DEMO, argv);
  // The per-batch JSON lines of the handler would drown the steps; LOG_LEVEL=info shows them.
  process.env.LOG_LEVEL ??= 'warn';
  step('1/4 stack up');
  const { mode } = await up((m) => console.log(`   ${m}`));
  loadStackEnv();
  const config = loadConfig();

  step('2/4 schema');
  const stores = openStores(config, quotesRoute());
  await stores.ready();
  await stores.close();
  console.log(
    `   ${qualifiedTable(config, 'records')}, ${qualifiedTable(config, 'deadLetters')}; ${config.MONGO_DATABASE}.${config.MONGO_COLLECTION}`,
  );

  step(`3/4 produce the sample quotes to ${config.KAFKA_TOPIC}`);
  const quotes = readQuotes(SAMPLE_FILE);
  const sent = await publish(
    createKafka(config, 'quotes-sink-demo'),
    config.KAFKA_TOPIC,
    quoteMessages(quotes, { key: true, source: 'data/sample-quotes.json' }),
  );
  console.log(`   ${sent} records published`);

  step('4/4 run the emulator until the topic is drained');
  const log = createLogger(config.LOG_LEVEL, 'quotes-sink-emulator');
  const status = await drain(config, log);
  console.log(
    `   ${status.events} events, ${status.records} records: ${status.written.postgres} written, ${status.alreadyPresent} already there, ${status.deadLettered} dead letters`,
  );

  const client = new pg.Client({ connectionString: config.POSTGRES_URL });
  await client.connect();
  const { rows } = await client.query<{ quotes: number; dead: number }>(
    `select (select count(*) from ${qualifiedTable(config, 'records')})::int as quotes, (select count(*) from ${qualifiedTable(config, 'deadLetters')})::int as dead`,
  );
  await client.end();
  const mongo = await MongoClient.connect(config.MONGO_URL);
  const docs = await mongo.db(config.MONGO_DATABASE).collection(config.MONGO_COLLECTION).countDocuments();
  await mongo.close();

  console.log('\n== counts');
  console.log(`   postgres ${qualifiedTable(config, 'records')}: ${rows[0].quotes}`);
  console.log(`   mongo ${config.MONGO_DATABASE}.${config.MONGO_COLLECTION}: ${docs}`);
  console.log(`   postgres ${qualifiedTable(config, 'deadLetters')}: ${rows[0].dead}`);
  console.log('\n== where to look');
  for (const line of whereToLook(mode, config)) console.log(`   ${line}`);
  return stoppedBy ? 128 + constants.signals[stoppedBy] : 0;
}

runMain('demo', main);
