/** Dead letters you can act on: list, replay one, replay all, replay again (nothing). */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, test } from 'node:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { PROJECT_ROOT } from '../../lib/config';
import { uniqueName } from '../helpers/env';
import { emulate, lane, produce, until, type Lane } from '../helpers/lane';
import { dropOrders, order, ordersSinkFileIn } from '../helpers/orders';
import { runCommand, TSX } from '../helpers/run';

let l: Lane;
before(async () => (l = await lane('dl')));
after(() => l.close());

const cli = async (...args: string[]) => {
  const r = await runCommand(TSX, ['cli/dead-letters.ts', ...args], l.env);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
};

test('list shows coordinates, reason and a preview; replay re-publishes the raw records once', async () => {
  await produce(l, ['--synthetic', '200', '--invalid-ratio', '0.05', '--seed', '5']);
  await emulate(l);
  assert.deepEqual(await l.sb.counts(), { rows: 190, docs: 190, deadLetters: 10 });

  const listed = await cli('list');
  assert.match(listed, /10 dead letter\(s\) not yet replayed/);
  assert.match(listed, new RegExp(`${l.topic}/\\d/\\d+ +(json|schema) `));
  const firstId = new RegExp(`(${l.topic}/\\d/\\d+)`).exec(listed)?.[1] as string;

  assert.match(await cli('replay', '--id', firstId), /replayed 1 \(replay id /);
  assert.match(await cli('replay', '--id', firstId), /nothing to replay/);
  assert.match(await cli('replay', '--all'), /replayed 9 \(replay id /);
  assert.match(await cli('replay', '--all'), /nothing to replay/);
  assert.match(await cli('list'), /0 dead letter\(s\) not yet replayed/);

  // The replayed records are the same bad records: consumed again, they carry the identity of the
  // dead letter they re-send, so they land on it again (armed again: replayed_at cleared), not twice.
  await emulate(l);
  assert.deepEqual(await l.sb.counts(), { rows: 190, docs: 190, deadLetters: 10 });
  const again = await l.sb.query<{ topic: string }>(
    `select topic from ${l.sb.tables.deadLetters} where replayed_at is null`,
  );
  assert.equal(again.length, 10);
  assert.ok(again.every((r) => r.topic === l.topic));
});

test("list --route: a second route's dead letters (its topic's), and replay sends them back to it", async () => {
  const own = await lane('dlroute');
  const tmp = mkdtempSync(path.join(tmpdir(), 'quotes-sink-dl-route-'));
  const name = uniqueName('orders').toLowerCase();
  const env = { ...own.env, SINK_FILE: ordersSinkFileIn(tmp, name) };
  try {
    const lines = path.join(tmp, 'orders.jsonl');
    writeFileSync(lines, [order(1), order(2, { total: 'free' }), order(3)].join('\n'));
    const sent = await runCommand(TSX, ['cli/produce.ts', '--route', 'orders', '--create-topic', '--file', lines], env);
    assert.equal(sent.code, 0, sent.stderr);
    await produce(own, ['--synthetic', '20', '--invalid-ratio', '0.2', '--seed', '4']); // the quotes route's
    await emulate(own, [], { SINK_FILE: env.SINK_FILE });
    const list = async (...args: string[]) => {
      const r = await runCommand(TSX, ['cli/dead-letters.ts', 'list', ...args], env);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout;
    };
    const orders = await list('--route', 'orders');
    assert.match(orders, new RegExp(`^${name}/\\d/\\d+ +schema .*total`, 'm'));
    assert.match(orders, /^1 dead letter\(s\) not yet replayed$/m);
    const quotes = await list('--route', 'quotes');
    assert.ok(!quotes.includes(name), 'the quotes route lists none of the orders');
    const [n] = await own.sb.query<{ n: number }>(
      `select count(*)::int as n from ${own.sb.tables.deadLetters} where topic = $1`,
      [own.topic],
    );
    assert.match(quotes, new RegExp(`^${n.n} dead letter\\(s\\) not yet replayed$`, 'm'));
    const bad = await runCommand(TSX, ['cli/dead-letters.ts', 'list', '--route', 'nope'], env);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--route nope: the sink file .* has no such route \(it has quotes, orders\)/);

    // Replay is by each dead letter's topic: the order goes back to the orders topic.
    const high = async () => (await own.admin.fetchTopicOffsets(name)).reduce((s, p) => s + Number(p.high), 0);
    assert.equal(await high(), 3);
    const id = new RegExp(`(${name}/\\d/\\d+)`).exec(orders)?.[1] as string;
    const r = await runCommand(TSX, ['cli/dead-letters.ts', 'replay', '--id', id], env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await high(), 4, 'the dead letter was re-published to its route topic');
    assert.match(await list('--route', 'orders'), /^0 dead letter\(s\) not yet replayed$/m);
  } finally {
    await dropOrders(own, name);
    await own.close();
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('a dead letter valid by now, sent twice (a crash between the send and the mark), is stored once', async () => {
  const own = await lane('dl2');
  try {
    const run = (...args: string[]) => runCommand(TSX, ['cli/dead-letters.ts', ...args], own.env);
    await produce(own, ['--synthetic', '40', '--invalid-ratio', '0.1', '--seed', '8']);
    await emulate(own);
    const before = await own.sb.counts();
    assert.ok(before.deadLetters > 0);
    // Fix "the schema": make the dead letters valid quotes, as a fixed producer would have sent them.
    const valid = Buffer.from(JSON.stringify({ quote: 'Fixed.', character: 'Lisa' })).toString('base64');
    await own.sb.query(`update ${own.sb.tables.deadLetters} set value_base64 = $1`, [valid]);
    assert.equal((await run('replay', '--all')).code, 0);
    await own.sb.query(`update ${own.sb.tables.deadLetters} set replayed_at = null`); // the mark was lost
    assert.equal((await run('replay', '--all')).code, 0);
    const offsets = await own.admin.fetchTopicOffsets(own.topic);
    const inKafka = offsets.reduce((n, p) => n + Number(p.high), 0);
    assert.equal(inKafka, 40 + 2 * before.deadLetters, 'each dead letter was sent twice');
    await emulate(own);
    const after = await own.sb.counts();
    assert.equal(after.rows, before.rows + before.deadLetters, 'each replayed record stored once');
    assert.equal(after.docs, before.docs + before.deadLetters);
  } finally {
    await own.close();
  }
});

test('dead letters of a topic that no longer exists are skipped and reported; the others are replayed', async () => {
  const own = await lane('dl3');
  try {
    await produce(own, ['--synthetic', '30', '--invalid-ratio', '0.2', '--seed', '3']);
    await emulate(own);
    await own.sb.query(
      `insert into ${own.sb.tables.deadLetters} (cluster, topic, partition, "offset", value_base64, error_kind, error) values ('', 'gone_topic', 0, 7, 'e30=', 'json', 'x')`,
    );
    const r = await runCommand(TSX, ['cli/dead-letters.ts', 'replay', '--all'], own.env);
    assert.equal(r.code, 1, 'a skipped topic makes the exit code non-zero');
    assert.match(r.stdout, /skipped the dead letters of gone_topic: the topic no longer exists/);
    const left = await own.sb.query<{ topic: string }>(
      `select topic from ${own.sb.tables.deadLetters} where replayed_at is null`,
    );
    assert.deepEqual(left, [{ topic: 'gone_topic' }], 'every other dead letter was replayed and marked');
  } finally {
    await own.close();
  }
});

test('replay: its Postgres connection terminated mid-way: one line, exit 1, what was marked is on the topic, the rest pending', async (t) => {
  const own = await lane('dlterm');
  // A second topic, replayed after the lane's (topics go in name order); its slice is held, then cut.
  const second = `${own.topic}_z`;
  const key = Math.floor(Math.random() * 2 ** 31);
  const fn = uniqueName('hold');
  const holder = new pg.Client({ connectionString: own.sb.config.POSTGRES_URL });
  let child: ChildProcess | undefined;
  try {
    await own.admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic: second, numPartitions: 1, replicationFactor: 1 }],
    });
    for (const topic of [own.topic, second])
      for (let offset = 0; offset < 5; offset++)
        await own.sb.query(
          `insert into ${own.sb.tables.deadLetters} (cluster, topic, partition, "offset", value_base64, error_kind, error) values ('', $1, 0, $2, 'e30=', 'json', 'x')`,
          [topic, offset],
        );
    // Marking the second topic's dead letters waits for an advisory lock the test holds.
    await own.sb.query(
      `create function ${fn}() returns trigger language plpgsql as $$ begin
         if new.topic = '${second}' then perform pg_advisory_xact_lock(${key}); end if; return new; end $$`,
    );
    await own.sb.query(
      `create trigger ${fn} before update on ${own.sb.tables.deadLetters} for each row execute function ${fn}()`,
    );
    await holder.connect();
    holder.on('error', () => undefined);
    await holder.query('select pg_advisory_lock($1)', [key]);

    child = spawn(process.execPath, ['--import', 'tsx', 'cli/dead-letters.ts', 'replay', '--all'], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, ...own.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const exit = new Promise<number | null>((resolve) => child?.once('exit', (code) => resolve(code)));

    let pid: number | undefined;
    await until(
      'the replay to wait on the lock',
      async () => {
        const [w] = await own.sb.query<{ pid: number }>(
          `select pid from pg_stat_activity where wait_event = 'advisory' and query like $1 and pid <> pg_backend_pid()`,
          [`%update ${own.sb.tables.deadLetters}%`],
        );
        pid = w?.pid;
        return pid !== undefined;
      },
      60_000,
    );
    await own.sb.query('select pg_terminate_backend($1)', [pid]);
    const code = await Promise.race([exit, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 30_000))]);
    assert.equal(code, 1, `exit 1\n${stdout}${stderr}`);
    assert.doesNotMatch(stderr, /^ {4}at /m, 'no stack trace');
    assert.equal(stderr.trim().split('\n').length, 1, stderr);
    t.diagnostic(stderr.trim());

    const rows = await own.sb.query<{ topic: string; replayed: boolean }>(
      `select topic, replayed_at is not null as replayed from ${own.sb.tables.deadLetters}`,
    );
    const marked = rows.filter((r) => r.replayed);
    assert.ok(marked.every((r) => r.topic === own.topic) && marked.length === 5, 'the first topic marked');
    const onTopic = (await own.admin.fetchTopicOffsets(own.topic)).reduce((n, p) => n + Number(p.high), 0);
    assert.equal(onTopic, 5, 'what is marked replayed is on its topic');
    assert.equal(rows.filter((r) => r.topic === second && !r.replayed).length, 5, 'the cut slice is still pending');
  } finally {
    if (child && child.exitCode === null && child.signalCode === null) process.kill(-(child.pid as number), 'SIGKILL');
    await holder.end().catch(() => undefined);
    await own.sb.query(`drop function if exists ${fn}() cascade`).catch(() => undefined);
    await own.admin.deleteTopics({ topics: [second] }).catch(() => undefined);
    await own.close();
  }
});
