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

  assert.match(await cli('replay', '--id', firstId), /replayed 1:/);
  assert.match(await cli('replay', '--id', firstId), /nothing to replay/);
  assert.match(await cli('replay', '--all'), /replayed 9:/);
  assert.match(await cli('replay', '--all'), /nothing to replay/);
  assert.match(await cli('list'), /0 dead letter\(s\) not yet replayed/);

  // The replayed records are the same bad records: consumed again, they are dead-lettered again,
  // at new offsets, carrying a header that says which dead letter they came from.
  await emulate(l);
  assert.deepEqual(await l.sb.counts(), { rows: 190, docs: 190, deadLetters: 20 });
  const again = await l.sb.query<{ value_base64: string; headers: { name: string; value?: string }[] }>(
    `select value_base64, headers from "${l.env.POSTGRES_DEAD_LETTER_TABLE}" where replayed_at is null order by partition, "offset"`,
  );
  assert.equal(again.length, 10);
  assert.ok(again.every((r) => r.headers.some((h) => h.name === 'dead-letter-of' && h.value?.startsWith(`${l.topic}/`))));
  const originals = await l.sb.query<{ value_base64: string }>(`select value_base64 from "${l.env.POSTGRES_DEAD_LETTER_TABLE}" where replayed_at is not null`);
  assert.deepEqual(again.map((r) => r.value_base64).sort(), originals.map((r) => r.value_base64).sort(), 'raw values re-published byte for byte');
});
