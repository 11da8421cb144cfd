/**
 * The emulator and recorder on the command line: signals through npm, --until-idle with LATEST on a
 * new group, --log-file holding the handler's batch reports, and `record` on a drained topic.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PROJECT_ROOT } from '../../lib/config';
import { uniqueName } from '../helpers/env';
import { emulate, lane, produce, runEmulator, until, type Lane } from '../helpers/lane';
import { runCommand, TSX } from '../helpers/run';

const tmp = mkdtempSync(path.join(tmpdir(), 'quotes-sink-emulator-cli-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('the emulator on the command line', () => {
  let l: Lane;
  before(async () => {
    l = await lane('emucli');
    await produce(l, ['--synthetic', '200', '--seed', '9']);
  });
  after(() => l.close());

  test('a store that does not answer at start: one line naming it within 10 s, exit 1, no retrying forever', async () => {
    const t0 = Date.now();
    const r = await runCommand(TSX, ['cli/local.ts', '--until-idle', '--no-template'], {
      ...l.env,
      POSTGRES_URL: 'postgres://u:distinctive-pw@127.0.0.1:1/none',
    });
    assert.equal(r.code, 1);
    assert.ok(Date.now() - t0 < 10_000, `took ${Date.now() - t0} ms`);
    assert.match(r.stderr, /cannot connect to postgres at postgres:\/\/u:\*\*\*@127\.0\.0\.1:1\/none/);
    assert.doesNotMatch(r.stdout + r.stderr, /distinctive-pw|\n\s+at /);
    assert.equal((await l.sb.counts()).rows, 0, 'nothing consumed');
  });

  test('SINK_STORES=postgres: MongoDB is neither checked nor written, and every record lands in Postgres', async () => {
    const id = uniqueName('pgonly').toLowerCase();
    const tables = { POSTGRES_QUOTES_TABLE: `${id}_quotes`, POSTGRES_DEAD_LETTER_TABLE: `${id}_dl` };
    const r = await runCommand(
      TSX,
      ['cli/local.ts', '--until-idle', '--no-template'],
      { ...l.env, ...tables, SINK_STORES: 'postgres', MONGO_URL: 'mongodb://127.0.0.1:1/', KAFKA_GROUP_ID: id },
      120_000,
    );
    try {
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const [n] = await l.sb.query<{ n: number }>(`select count(*)::int as n from "${tables.POSTGRES_QUOTES_TABLE}"`);
      assert.equal(n.n, 200);
    } finally {
      await l.sb.query(
        `drop table if exists "${tables.POSTGRES_QUOTES_TABLE}", "${tables.POSTGRES_DEAD_LETTER_TABLE}"`,
      );
    }
  });

  test('--until-idle --starting-position LATEST on a new group exits at once: the backlog is not its lag', async () => {
    const r = await runEmulator(
      l,
      ['--until-idle', '--starting-position', 'LATEST'],
      { KAFKA_GROUP_ID: uniqueName('latest') },
      60_000,
    );
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /done: 0 records/);
  });

  test('--log-file holds the handler batch reports and the EMF lines; done: reports the average rate', async () => {
    const log = path.join(tmp, 'run.log');
    const out = await emulate(l, ['--log-file', log], { LOG_LEVEL: 'info' });
    assert.match(out, /done: 200 records, 200 written.* \(average \d+ rec\/s\)/);
    const text = readFileSync(log, 'utf8');
    assert.match(text, /"msg":"batch written"/);
    assert.match(text, /"_aws":/);
    assert.match(text, /"msg":"emulator stopped"/);
  });

  test('on a terminal: the status line and one readable line per batch, no JSON (--json brings it back)', async () => {
    const cmd = `${TSX} cli/local.ts --until-idle --batch-size 100`;
    const group = { KAFKA_GROUP_ID: uniqueName('tty') };
    const r = await runCommand(
      'script',
      ['-qec', cmd, '/dev/null'],
      { ...l.env, ...group, LOG_LEVEL: 'info' },
      120_000,
    );
    const lines = r.stdout.split(/[\r\n]+/).map((x) => x.split('\u001b[2K').join(''));
    assert.ok(
      lines.some((x) => /^batch \d+ records: \d+ written, \d+ already there/.test(x)),
      r.stdout,
    );
    assert.ok(
      lines.some((x) => /^done: 200 records/.test(x)),
      r.stdout,
    );
    assert.equal(lines.filter((x) => x.startsWith('{')).length, 0, 'no JSON on a terminal');
    const json = await runCommand(
      'script',
      ['-qec', `${cmd} --json`, '/dev/null'],
      { ...l.env, KAFKA_GROUP_ID: uniqueName('tty'), LOG_LEVEL: 'info' },
      120_000,
    );
    assert.match(json.stdout, /"msg":"batch written"/);
  });

  test('record on a drained topic exits 1, says so and suggests --from-beginning', async () => {
    const out = path.join(tmp, 'drained.json');
    const r = await runCommand(TSX, ['cli/record.ts', '--out', out, '--wait-ms', '1000'], l.env);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /has read everything.*--from-beginning/);
    assert.equal(existsSync(out), false);
    const bad = await runCommand(TSX, ['cli/record.ts', '--out', out, '--batch-size', 'abc'], l.env);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--batch-size takes a whole number/);
  });

  test('kill -TERM on `npm run local` reaches the emulator: it stops, nothing is left running', async () => {
    const npm = spawn('npm', ['run', 'local', '--', '--json'], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, ...l.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let output = '';
    npm.stdout.on('data', (d: Buffer) => (output += d.toString()));
    npm.stderr.on('data', (d: Buffer) => (output += d.toString()));
    try {
      await until(
        'the emulator to run',
        () => /"msg":"status"|new consumer group|\[local\] kafka/.test(output),
        60_000,
      );
      await new Promise((r) => setTimeout(r, 2_000));
      const children = await runCommand('pgrep', ['-g', String(npm.pid)]);
      const pids = children.stdout.split('\n').filter(Boolean).map(Number);
      process.kill(npm.pid as number, 'SIGTERM'); // npm alone, as `timeout` and IDEs do
      await until('every process of the run to exit', () => pids.every((p) => !alive(p)), 15_000);
      assert.match(output, /SIGTERM: stopping/);
      assert.match(output, /done: /);
    } finally {
      try {
        process.kill(-(npm.pid as number), 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
});

describe('a topic deleted and created again', () => {
  let l: Lane;
  before(async () => (l = await lane('recreated')));
  after(() => l.close());

  test('the emulator reads the new topic from its beginning', async () => {
    await produce(l, ['--synthetic', '120', '--seed', '21']);
    await emulate(l);
    await l.admin.deleteTopics({ topics: [l.topic] });
    await until('the topic to be gone', async () => !(await l.admin.listTopics()).includes(l.topic), 30_000);
    await l.admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic: l.topic, numPartitions: 3, replicationFactor: 1 }],
    });
    // Other seed, other quotes: the new topic's offsets 0.. are new records.
    await produce(l, ['--synthetic', '30', '--seed', '22']);
    const r = await runEmulator(l, ['--until-idle'], { LOG_LEVEL: 'info' }, 90_000);
    assert.equal(r.code, 0, r.output);
    // Kafka drops a deleted topic's committed offsets (then the group simply starts afresh); where
    // they survive, the emulator sees its end below them and says so. Either way: the 30 new records
    // are read (the sink keeps them as collisions: their coordinates are the old topic's records').
    assert.match(r.output, /done: 30 records/);
  });
});
