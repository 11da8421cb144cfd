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
import { defineCommand, parseCommand } from '../tools/cli/args';
import { runMain } from '../tools/cli/main';
import { createSinkHandler } from '../handlers/sink';
import { Emulator, type EmulatorStatus } from '../tools/emulator/emulator';
import { inProcessInvoker, type SinkHandler } from '../tools/emulator/invoke';
import { statusLine } from '../tools/emulator/report';
import { createKafka } from '../tools/kafka';
import { createLogger, type Logger } from '../lib/log';
import { SAMPLE_FILE, publish, quoteMessages, readQuotes } from '../tools/producer/publish';
import { quotesRoute } from '../lib/routes/default';
import { openStores } from '../lib/stores';
import { qualifiedTable } from '../lib/postgres/names';
import { up, type Mode } from '../tools/stack/stack';

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

/** Where to look after the run: the sink's UI, then the stack's web UIs (docker) or commands; no password. */
function whereToLook(mode: Mode, config: Config): string[] {
  const ui = `npm run ui     http://127.0.0.1:8088/  (each record's fate, the stores, the dead letters)`;
  return [ui, ...storeLooks(mode, config)];
}

/** The stack's own web UIs (docker), else commands that show the stores. */
function storeLooks(mode: Mode, config: Config): string[] {
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

/**
 * The handler over the demo's own stores. Its metrics lines (EMF, which Lambda reads from stdout)
 * go to the emulator's log here: on a terminal they would break up the steps.
 */
function demoHandler(config: Config, log: Logger): { handler: SinkHandler; close: () => Promise<void> } {
  const stores = openStores(config, quotesRoute());
  const emit = (line: string) => log.info({ emf: JSON.parse(line) as unknown }, 'batch metrics');
  const handle = createSinkHandler({ config, log, stores, emit });
  return { handler: (event) => handle(event), close: stores.close };
}

/** One progress line on a terminal, redrawn in place; nothing elsewhere (the last line says the counts). */
function progress(s: EmulatorStatus): void {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[2K   ${statusLine(s)}`);
}

/** Runs the emulator until every partition is drained, as `npm run local -- --until-idle` does. */
async function drain(config: Config, log: Logger): Promise<EmulatorStatus> {
  const sink = demoHandler(config, log);
  const emulator = new Emulator({
    kafka: createKafka(config, 'quotes-sink-emulator'),
    invoke: inProcessInvoker(sink.handler, sink.close),
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
    onStatus: progress,
    statusEveryMs: 500,
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
    if (process.stderr.isTTY) process.stderr.write('\r\x1b[2K');
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
