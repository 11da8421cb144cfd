/**
 * The command lines (tools/cli): every one answers --help (exit 0, usage on stdout) and a bad flag
 * (exit 2, one line naming it, no stack trace); with Kafka or a store unreachable each exits
 * non-zero within 10 s naming what it could not reach. Then what topics, produce and dead-letters
 * do on the real stack. Every run is bounded in time.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { buildEvent, toEventRecord } from '../../tools/emulator/event';
import { createKafka } from '../../tools/kafka';
import { quoteType } from '../helpers/quote-type';
import { processBatch } from '../../lib/sink/batch';
import { stackConfig, uniqueName } from '../helpers/env';
import { exitOf, runCommand, startCommand, stopCommand, TSX, type RunResult } from '../helpers/run';
import { sandbox } from '../helpers/sink';

const config = stackConfig();
/** A loopback port nothing listens on: connections are refused at once. */
const CLOSED = '127.0.0.1:1';
const SECRET = 'cli-test-secret';
const CLOSED_URL = {
  kafka: CLOSED,
  postgres: `postgres://mchi:${SECRET}@${CLOSED}/simpsons`,
  mongo: `mongodb://${CLOSED}/`,
};

const cli = (args: string[], env: Record<string, string> = {}, timeoutMs = 60_000): Promise<RunResult> =>
  runCommand(TSX, args, { LOG_LEVEL: 'warn', ...env }, timeoutMs);

/** Every command line, with the arguments that reach each of its commands. */
const COMMANDS: [string, string[]][] = [
  ['produce', ['cli/produce.ts']],
  ['migrate', ['cli/migrate.ts']],
  ['dead-letters', ['cli/dead-letters.ts']],
  ['dead-letters list', ['cli/dead-letters.ts', 'list']],
  ['dead-letters replay', ['cli/dead-letters.ts', 'replay']],
  ['topics', ['cli/topics.ts']],
  ['topics list', ['cli/topics.ts', 'list']],
  ['topics create', ['cli/topics.ts', 'create']],
  ['topics describe', ['cli/topics.ts', 'describe']],
  ['stack', ['cli/stack.ts']],
  ['stack up', ['cli/stack.ts', 'up']],
  ['stack down', ['cli/stack.ts', 'down']],
  ['stack status', ['cli/stack.ts', 'status']],
  ['demo (npm start)', ['cli/demo.ts']],
  ['bench', ['bench/run.ts']],
  ['soak', ['bench/soak.ts']],
  ['offline', ['scripts/offline.ts']],
  ['local', ['cli/local.ts']],
  ['record', ['cli/record.ts']],
  ['redrive', ['cli/redrive.ts']],
  ['doctor', ['cli/doctor.ts']],
  ['ui', ['cli/ui.ts']],
];

const NO_STACK_TRACE = /\n\s+at /;

/** One line on stderr, naming `what`, no stack trace, exit 2. */
function assertUsageError(r: RunResult, what: RegExp): void {
  assert.equal(r.code, 2, `${r.stdout}${r.stderr}`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], what);
  assert.doesNotMatch(r.stderr, NO_STACK_TRACE);
}

describe('--help and a bad flag, on every command', { concurrency: 4 }, () => {
  for (const [name, args] of COMMANDS) {
    test(name, async () => {
      const [help, bad] = await Promise.all([cli([...args, '--help']), cli([...args, '--no-such-flag'])]);
      assert.equal(help.code, 0, help.stderr);
      assert.match(help.stdout, /^usage: npm (run [a-z-]+ --|start --)/);
      assert.match(help.stdout, /--help, -h/);
      assert.equal(help.stderr, '');
      assertUsageError(bad, /--no-such-flag/);
    });
  }
});

describe('bad values and conflicting flags: one line naming the flag, exit 2', { concurrency: 4 }, () => {
  const cases: [string[], RegExp][] = [
    [['cli/dead-letters.ts', 'list', '--limit', 'abc'], /--limit takes a whole number .*"abc"/],
    [['cli/dead-letters.ts', 'list', '--limit'], /--limit needs a value/],
    [['cli/dead-letters.ts', 'replay'], /replay needs --id ID or --all/],
    [['bench/soak.ts', '--records', 'abc'], /--records takes a whole number/],
    [['bench/soak.ts', '--batch-size', '0'], /--batch-size takes a whole number from 1 to 10,000 \(got "0"\)/],
    [['bench/run.ts', '--records', 'abc'], /--records takes a whole number/],
    [
      ['cli/produce.ts', '--file', 'data/sample-quotes.json', '--synthetic', '5'],
      /--synthetic cannot be combined with --file/,
    ],
    [['cli/produce.ts', '--synthetic', 'abc'], /--synthetic takes a whole number/],
    [['cli/produce.ts', '--every', '0'], /--every takes a number above 0/],
    [['cli/produce.ts', '--invalid-ratio', '0.1'], /--invalid-ratio only applies with --synthetic/],
    [['cli/produce.ts', '--url', 'not a url'], /--url takes an http\(s\) URL/],
    [['cli/produce.ts', '--key', 'id'], /--key takes a JSON Pointer/],
    [['cli/produce.ts', '--synthetic', '5', '--key', '/id'], /--key cannot be combined with --synthetic/],
    [['cli/record.ts', '--out', 'x.json', '--topic', 'a b'], /--topic takes a topic name/],
    [['cli/topics.ts', 'create'], /NAME is required/],
    [['cli/topics.ts', 'create', 'a topic'], /NAME takes a topic name/],
    [['cli/topics.ts', 'frob'], /unknown command "frob"/],
    [['cli/stack.ts'], /missing command: up \| down \| status/],
  ];
  for (const [args, expected] of cases) {
    test(args.join(' '), async () => assertUsageError(await cli(args), expected));
  }
});

/** Runs `args` with `env`; asserts a non-zero exit within 10 s naming `what`, and no password. */
async function assertNamesUnreachable(args: string[], env: Record<string, string>, what: RegExp): Promise<void> {
  const t0 = Date.now();
  const r = await cli(args, env, 30_000);
  const seconds = (Date.now() - t0) / 1000;
  assert.notEqual(r.code, 0, `${r.stdout}${r.stderr}`);
  assert.ok(seconds < 10, `took ${seconds.toFixed(1)}s:\n${r.stderr}`);
  assert.match(r.stderr, what);
  assert.doesNotMatch(r.stderr, NO_STACK_TRACE);
  assert.doesNotMatch(`${r.stdout}${r.stderr}`, new RegExp(SECRET));
}

const KAFKA_DOWN = /cannot connect to kafka at 127\.0\.0\.1:1 \(KAFKA_BROKERS\)/;
const POSTGRES_DOWN =
  /cannot connect to postgres at postgres:\/\/mchi:\*\*\*@127\.0\.0\.1:1\/simpsons \(POSTGRES_URL\)/;
const MONGO_DOWN = /cannot connect to mongo at mongodb:\/\/127\.0\.0\.1:1\/ \(MONGO_URL\)/;

describe('an unreachable service is named within 10 s', () => {
  test('record: Kafka', () =>
    assertNamesUnreachable(
      ['cli/record.ts', '--out', '/tmp/quotes-sink-unreachable.json'],
      { KAFKA_BROKERS: CLOSED },
      KAFKA_DOWN,
    ));
  test('redrive: Kafka', () =>
    assertNamesUnreachable(
      ['cli/redrive.ts', '--from', 'kafka://quotes-failed'],
      { KAFKA_BROKERS: CLOSED },
      KAFKA_DOWN,
    ));
  test('produce: Kafka', () =>
    assertNamesUnreachable(['cli/produce.ts', '--synthetic', '5'], { KAFKA_BROKERS: CLOSED }, KAFKA_DOWN));
  test('topics list: Kafka', () =>
    assertNamesUnreachable(['cli/topics.ts', 'list'], { KAFKA_BROKERS: CLOSED }, KAFKA_DOWN));
  test('topics describe: Kafka', () =>
    assertNamesUnreachable(['cli/topics.ts', 'describe', 'quotes'], { KAFKA_BROKERS: CLOSED }, KAFKA_DOWN));
  test('dead-letters list: Postgres', () =>
    assertNamesUnreachable(['cli/dead-letters.ts', 'list'], { POSTGRES_URL: CLOSED_URL.postgres }, POSTGRES_DOWN));
  test('dead-letters replay: Kafka', () =>
    assertNamesUnreachable(['cli/dead-letters.ts', 'replay', '--all'], { KAFKA_BROKERS: CLOSED }, KAFKA_DOWN));
  test('migrate: Postgres', () =>
    assertNamesUnreachable(['cli/migrate.ts'], { POSTGRES_URL: CLOSED_URL.postgres }, POSTGRES_DOWN));
  test('migrate: Mongo', () => assertNamesUnreachable(['cli/migrate.ts'], { MONGO_URL: CLOSED_URL.mongo }, MONGO_DOWN));

  // These bring the stack up first: given all three addresses (one closed) and a stack folder of
  // their own, `up` names the one that does not answer instead of starting a stack.
  let stackDir: string;
  before(() => (stackDir = mkdtempSync(path.join(os.tmpdir(), 'quotes-sink-cli-'))));
  after(() => rmSync(stackDir, { recursive: true, force: true }));
  const given = (down: 'kafka' | 'postgres' | 'mongo') => ({
    QUOTES_SINK_STACK_DIR: stackDir,
    KAFKA_BROKERS: down === 'kafka' ? CLOSED_URL.kafka : config.KAFKA_BROKERS,
    POSTGRES_URL: down === 'postgres' ? CLOSED_URL.postgres : config.POSTGRES_URL,
    MONGO_URL: down === 'mongo' ? CLOSED_URL.mongo : config.MONGO_URL,
  });
  const upNames = (what: string) => new RegExp(`${what} \\([^)]*127\\.0\\.0\\.1:1[^)]*\\) does not answer`);
  test('stack up: Mongo', () => assertNamesUnreachable(['cli/stack.ts', 'up'], given('mongo'), upNames('mongo')));
  test('demo: Postgres', () => assertNamesUnreachable(['cli/demo.ts'], given('postgres'), upNames('postgres')));
  test('bench: Kafka', () => assertNamesUnreachable(['bench/run.ts', '--quick'], given('kafka'), upNames('kafka')));
  test('soak: Mongo', () =>
    assertNamesUnreachable(['bench/soak.ts', '--records', '100'], given('mongo'), upNames('mongo')));
});

describe('store selection on the command line', () => {
  test('SINK_STORES=postgres: migrate needs no MongoDB and makes the tables', async () => {
    const id = uniqueName('mig').toLowerCase();
    const tables = { POSTGRES_QUOTES_TABLE: `${id}_quotes`, POSTGRES_DEAD_LETTER_TABLE: `${id}_dl` };
    const r = await cli(['cli/migrate.ts'], { SINK_STORES: 'postgres', MONGO_URL: CLOSED_URL.mongo, ...tables });
    const client = new pg.Client({ connectionString: config.POSTGRES_URL });
    await client.connect();
    try {
      const found = await client.query<{ q: string | null; dl: string | null }>(
        'select to_regclass($1)::text as q, to_regclass($2)::text as dl',
        [tables.POSTGRES_QUOTES_TABLE, tables.POSTGRES_DEAD_LETTER_TABLE],
      );
      assert.equal(r.code, 0, r.stderr);
      assert.doesNotMatch(r.stdout, /mongo/);
      assert.deepEqual(found.rows[0], { q: tables.POSTGRES_QUOTES_TABLE, dl: tables.POSTGRES_DEAD_LETTER_TABLE });
    } finally {
      await client.query(
        `drop table if exists "${tables.POSTGRES_QUOTES_TABLE}", "${tables.POSTGRES_DEAD_LETTER_TABLE}"`,
      );
      await client.end();
    }
  });
});

describe('topics and produce', () => {
  const topic = uniqueName('t_cli');
  const other = uniqueName('t_cli_other');
  after(async () => {
    const admin = createKafka(config, 'cli-test').admin();
    await admin.connect();
    // Deleting a topic that does not exist is retried for half a minute: only those made here.
    const made = (await admin.listTopics()).filter((t) => t === topic || t === other);
    if (made.length) await admin.deleteTopics({ topics: made }).catch(() => undefined);
    await admin.disconnect();
  });

  test('a missing topic is named, with how to create it', async () => {
    const r = await cli(['cli/produce.ts', '--synthetic', '5', '--topic', topic]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`topic "${topic}" does not exist on .*--create-topic`));
    const d = await cli(['cli/topics.ts', 'describe', topic]);
    assert.equal(d.code, 1, d.stderr);
    assert.match(d.stderr, new RegExp(`topic "${topic}" does not exist.*npm run topics -- create ${topic}`));
  });

  test('produce --create-topic, then describe shows partitions, offsets and lag; list shows it', async () => {
    const p = await cli([
      'cli/produce.ts',
      '--synthetic',
      '30',
      '--topic',
      topic,
      '--create-topic',
      '--partitions',
      '2',
    ]);
    assert.equal(p.code, 0, p.stderr);
    assert.match(
      p.stderr,
      new RegExp(`\\[produce\\] kafka +${config.KAFKA_BROKERS.replace(/\./g, '\\.')}: topic ${topic}`),
    );
    assert.match(p.stderr, new RegExp(`created topic ${topic} \\(2 partitions\\)`));
    assert.match(p.stdout, new RegExp(`^produced 30 records to ${topic} \\(30 valid, 0 invalid, seed 42\\)`));

    const d = await cli(['cli/topics.ts', 'describe', topic, '--group', 'cli-test-group']);
    assert.equal(d.code, 0, d.stderr);
    assert.match(d.stdout, new RegExp(`topic ${topic}: 2 partitions, 30 records kept; group cli-test-group: lag 30`));
    assert.match(d.stdout, /^partition +leader +low +high +committed +lag$/m);
    assert.match(d.stdout, /^0 +\d+ +0 +\d+ +- +\d+$/m);
    assert.match(d.stdout, /^1 +\d+ +0 +\d+ +- +\d+$/m);

    const l = await cli(['cli/topics.ts', 'list']);
    assert.equal(l.code, 0, l.stderr);
    assert.match(l.stdout, new RegExp(`^${topic} +2 +30$`, 'm'));
  });

  test('topics create: new, existing (exit 1), --if-not-exists (exit 0)', async () => {
    const c = await cli(['cli/topics.ts', 'create', other, '--partitions', '1']);
    assert.equal(c.code, 0, c.stderr);
    assert.match(c.stdout, new RegExp(`created topic ${other} \\(1 partitions`));
    const again = await cli(['cli/topics.ts', 'create', other]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /exists already/);
    assert.equal((await cli(['cli/topics.ts', 'create', other, '--if-not-exists'])).code, 0);
  });

  test('produce --every with --synthetic: a line per round with its own figures; Ctrl-C stops at once', async () => {
    const run = await startCommand(
      TSX,
      ['cli/produce.ts', '--synthetic', '4', '--topic', topic, '--every', '30', '--seed', '7'],
      {},
      /produced 4 records/,
      30_000,
    );
    // The next round is 30 s away: SIGINT must end the wait now, not then.
    const t0 = Date.now();
    await stopCommand(run.child, 'SIGINT');
    assert.equal(await exitOf(run.child, 5_000), 0);
    assert.ok(Date.now() - t0 < 3_000, 'waited out the interval');
    assert.match(run.output(), /produced 4 records .*seed 7\) in \d+\.\ds \(\d+ records\/s\)/);
    assert.match(run.output(), /stopped after 1 round\(s\)/);

    const fast = await startCommand(
      TSX,
      ['cli/produce.ts', '--synthetic', '4', '--topic', topic, '--every', '0.3', '--seed', '7'],
      {},
      /round 3: produced 4 records .*seed 9\)/,
      30_000,
    );
    await stopCommand(fast.child, 'SIGINT');
    assert.match(fast.output(), /round 2: produced 4 records to \S+ \(4 valid, 0 invalid, seed 8\)/);
  });

  test('--url: an HTML page, a refused connection and a missing file are named with why', async () => {
    // An existing topic: these fail at the source, after the topic check.
    const topic = config.KAFKA_TOPIC;
    const server: Server = createServer((_req, res) => {
      res.setHeader('content-type', 'text/html');
      res.end('<!doctype html><title>gone</title>');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/quotes`;
    try {
      const html = await cli(['cli/produce.ts', '--url', url, '--topic', topic]);
      assert.equal(html.code, 1);
      assert.match(html.stderr, new RegExp(`GET ${url.replace(/\./g, '\\.')}: returned an HTML page \\(text/html\\)`));
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    // The port the server had, now closed: the connection is refused.
    const refused = await cli(['cli/produce.ts', '--url', url, '--topic', topic]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, new RegExp(`GET ${url.replace(/\./g, '\\.')}: request failed: .*ECONNREFUSED`));
    const missing = await cli(['cli/produce.ts', '--file', 'no/such/file.json', '--topic', topic]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no\/such\/file\.json: no such file/);
    for (const r of [refused, missing]) assert.doesNotMatch(r.stderr, NO_STACK_TRACE);
  });
});

test('dead-letters list shows the real total and pages through it', async () => {
  const sb = await sandbox('cli_dl');
  try {
    const records = Array.from({ length: 7 }, (_, i) =>
      toEventRecord({ topic: 'cli_dl', partition: 0, offset: i, timestamp: 1, key: null, value: `not json ${i}` }),
    );
    await processBatch(buildEvent('self-managed', 'x:9092', records), quoteType, sb, { tombstones: 'skip' });
    const list = (...args: string[]) => cli(['cli/dead-letters.ts', 'list', ...args], sb.env);

    const first = await list('--limit', '3');
    assert.equal(first.code, 0, first.stderr);
    assert.match(
      first.stdout,
      /^3 of 7 dead letter\(s\) not yet replayed, newest first; --offset 3 for the next page$/m,
    );
    assert.equal(first.stdout.match(/^cli_dl\/0\/\d /gm)?.length, 3);
    const last = await list('--limit', '3', '--offset', '6');
    assert.match(last.stdout, /^7-7 of 7 dead letter\(s\) not yet replayed, newest first$/m);
    assert.match((await list()).stdout, /^7 dead letter\(s\) not yet replayed$/m);
  } finally {
    await sb.close();
  }
});
