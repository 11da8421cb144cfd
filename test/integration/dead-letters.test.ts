/** Dead letters you can act on: list, replay one, replay all, replay again (nothing). */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { emulate, lane, produce, type Lane } from '../helpers/lane';
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
