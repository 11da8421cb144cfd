/**
 * Issue 11's "done when": an outage longer than the retry window loses nothing. The records end in
 * the on-failure destination and the partitions move on; once the store is back, `npm run redrive`
 * brings them through the sink, each stored once (even redriven twice).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { uniqueName } from '../helpers/env';
import { committedOffsets, lane, produce, runEmulator, type Lane } from '../helpers/lane';
import { runCommand, TSX } from '../helpers/run';

const N = 300;
/** Postgres unreachable for the whole run: every invocation fails at once. */
const OUTAGE = { POSTGRES_URL: 'postgres://u:p@127.0.0.1:1/none', POSTGRES_CONNECT_TIMEOUT_MS: '300' };
const FAST_FAILURE = ['--until-idle', '--max-attempts', '2', '--backoff-cap-ms', '20', '--batch-size', '100'];

async function endOffsets(l: Lane, topic: string): Promise<number> {
  return (await l.admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high), 0);
}

async function redrive(l: Lane, args: string[]): Promise<string> {
  const r = await runCommand(TSX, ['cli/redrive.ts', ...args], l.env, 120_000);
  assert.equal(r.code, 0, `redrive failed:\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

describe('an outage longer than the retry window, then a redrive', () => {
  let l: Lane;
  let failed: string;
  const tmp = mkdtempSync(path.join(tmpdir(), 'quotes-sink-redrive-'));
  before(async () => {
    l = await lane('redrive');
    failed = `${l.topic}-failed`;
    await l.admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic: failed, numPartitions: 1, replicationFactor: 1 }],
    });
  });
  after(async () => {
    await l.admin.deleteTopics({ topics: [failed] }).catch(() => undefined);
    await l.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  test('Kafka destination: records kept, partitions moved on; redrive brings each through once, twice is harmless', async () => {
    await produce(l, ['--synthetic', String(N), '--seed', '5']);
    const down = await runEmulator(
      l,
      [...FAST_FAILURE, '--no-store-check', '--destination', `kafka://${failed}`],
      OUTAGE,
    );
    assert.equal(down.code, 0, down.output);
    assert.match(down.output, new RegExp(`${N} sent to the destination`));
    assert.equal(await endOffsets(l, failed), N, 'one destination message per failed record');
    const committed = await committedOffsets(l);
    assert.equal(
      Object.values(committed).reduce((a, b) => a + b, 0),
      N,
      'the partitions moved on',
    );
    assert.equal((await l.sb.counts()).rows, 0, 'nothing in Postgres during the outage (Mongo may hold some)');

    assert.match(
      await redrive(l, ['--from', `kafka://${failed}`]),
      new RegExp(`redriven ${N} records from ${N} messages`),
    );
    assert.match(await redrive(l, ['--from', `kafka://${failed}`]), /redriven 0 records/, 'committed as it went');
    const up = await runEmulator(l, ['--until-idle']);
    assert.equal(up.code, 0, up.output);
    assert.deepEqual(await l.sb.counts(), { rows: N, docs: N, deadLetters: 0 });

    // Redriven a second time on purpose (a new group reads it all again): still stored once.
    await redrive(l, ['--from', `kafka://${failed}`, '--group', uniqueName('again')]);
    const again = await runEmulator(l, ['--until-idle']);
    assert.equal(again.code, 0, again.output);
    assert.match(again.output, new RegExp(`${N} records, 0 written, ${N} already there`));
    assert.deepEqual(await l.sb.counts(), { rows: N, docs: N, deadLetters: 0 });
  });

  test('S3 destination (a folder): one invocation record per failed batch; redrive moves them aside', async () => {
    const dir = path.join(tmp, 's3');
    const l2 = l;
    const before = await l2.sb.counts();
    await produce(l2, ['--synthetic', '150', '--seed', '77']);
    const down = await runEmulator(l2, [...FAST_FAILURE, '--no-store-check', '--s3-destination', dir], OUTAGE);
    assert.equal(down.code, 0, down.output);
    const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
    assert.ok(files.length >= 2, `one file per failed batch: ${files.join(', ')}`);
    assert.match(await redrive(l2, ['--from-dir', dir]), /redriven 150 records/);
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.endsWith('.json')),
      [],
    );
    assert.equal(readdirSync(path.join(dir, 'redriven')).length, files.length);
    assert.match(await redrive(l2, ['--from-dir', dir]), /redriven 0 records from 0 files/);
    const up = await runEmulator(l2, ['--until-idle']);
    assert.equal(up.code, 0, up.output);
    const after = await l2.sb.counts();
    assert.equal(after.rows - before.rows, 150, up.output);
    assert.equal(after.docs - before.docs, 150);
  });
});
