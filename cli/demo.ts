/**
 * `npm start`: the whole pipeline once, end to end. Brings the stack up, creates the schema,
 * publishes the sample quotes (the NiFi step), runs the emulator until the topic is drained (the
 * Lambda step), then prints what is in PostgreSQL, MongoDB and the dead-letter table.
 */
import { MongoClient } from 'mongodb';
import pg from 'pg';
import { DEFAULTS, loadConfig, loadStackEnv, redactUrl } from '../lib/config';
import { runEmulator } from '../lib/emulator/emulator';
import { inProcessInvoker } from '../lib/emulator/invoke';
import { createKafka } from '../lib/kafka';
import { createLogger } from '../lib/log';
import { SAMPLE_FILE, publish, quoteMessages, readQuotes } from '../lib/producer/publish';
import { quoteType } from '../lib/records/quote';
import { openStores } from '../lib/sink/stores';
import { qualifiedTable } from '../lib/sink/tables';
import { up } from '../lib/stack/stack';

const step = (m: string) => console.log(`\n== ${m}`);

async function main(): Promise<void> {
  // The per-batch JSON lines of the handler would drown the steps; LOG_LEVEL=info shows them.
  process.env.LOG_LEVEL ??= 'warn';
  step('1/4 stack up');
  const { mode } = await up((m) => console.log(`   ${m}`));
  loadStackEnv();
  const config = loadConfig();

  step('2/4 schema');
  const stores = openStores(config, quoteType);
  await stores.ready();
  await stores.close();
  console.log(`   ${qualifiedTable(config, 'records')}, ${qualifiedTable(config, 'deadLetters')}; ${config.MONGO_DATABASE}.${config.MONGO_COLLECTION}`);

  step(`3/4 produce the sample quotes to ${config.KAFKA_TOPIC}`);
  const quotes = readQuotes(SAMPLE_FILE);
  const sent = await publish(createKafka(config, 'quotes-sink-demo'), config.KAFKA_TOPIC, quoteMessages(quotes, { key: true, source: 'data/sample-quotes.json' }));
  console.log(`   ${sent} records published`);

  step('4/4 run the emulator until the topic is drained');
  const log = createLogger(config.LOG_LEVEL, 'quotes-sink-emulator');
  const status = await runEmulator({
    config,
    topic: config.KAFKA_TOPIC,
    groupId: config.KAFKA_GROUP_ID,
    startingPosition: 'TRIM_HORIZON',
    batchSize: 100,
    windowMs: 500,
    source: 'self-managed',
    invoke: inProcessInvoker(),
    retry: { maxAttempts: 5, baseMs: 200, capMs: 5_000 },
    untilIdle: true,
    idleMs: 1_500,
    log,
  });
  console.log(`   ${status.events} events, ${status.records} records: ${status.written.postgres} written, ${status.alreadyPresent} already there, ${status.deadLettered} dead letters`);

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
  console.log(`   postgres ${config.POSTGRES_QUOTES_TABLE}:      ${rows[0].quotes}`);
  console.log(`   mongo ${config.MONGO_DATABASE}.${config.MONGO_COLLECTION}: ${docs}`);
  console.log(`   postgres ${config.POSTGRES_DEAD_LETTER_TABLE}: ${rows[0].dead}`);
  console.log('\n== where to look');
  if (mode === 'docker') {
    console.log(`   Kafka UI       http://localhost:${DEFAULTS.ui.kafkaUi}`);
    console.log(`   pgAdmin        http://localhost:${DEFAULTS.ui.pgadmin}  (server already registered)`);
    console.log(`   mongo-express  http://localhost:${DEFAULTS.ui.mongoExpress}`);
  } else {
    console.log(`   psql "${config.POSTGRES_URL}" -c 'select character, quote from quotes limit 5'`);
    console.log(`   node -e "require('mongodb').MongoClient.connect('${redactUrl(config.MONGO_URL)}').then(async c => { console.log(await c.db('${config.MONGO_DATABASE}').collection('${config.MONGO_COLLECTION}').findOne()); await c.close() })"`);
    console.log('   logs: .stack/logs/   stop: npm run stack -- down');
  }
}

main().then(
  () => process.exit(0),
  (e: Error) => {
    console.error(`demo failed: ${e.message}`);
    process.exit(1);
  },
);
