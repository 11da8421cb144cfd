/**
 * `npm run ui` in a real browser (Debian's chromium driven by playwright-core): records of a lane
 * of their own (valid, invalid, hostile, a tombstone) are followed from Kafka to their fate, the
 * lag reaches 0, a dead letter is replayed from the page exactly once, the emulator page follows
 * a published status, and the stores' consistency check finds and repairs a missing row and
 * document. A screenshot of each page goes to .scratch/ui-screenshots/.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Partitioners, type Admin, type Producer } from 'kafkajs';
import { MongoClient } from 'mongodb';
import { chromium, type Browser, type Page } from 'playwright-core';
import { PROJECT_ROOT } from '../../lib/config';
import { createKafka } from '../../tools/kafka';
import { findChromium } from '../../tools/stack/test-tools';
import { EmulatorStatusWriter } from '../../tools/ui/status-file';
import { emulate, lane, type Lane } from '../helpers/lane';
import { startCommand, stopCommand, TSX } from '../helpers/run';

const SHOTS = path.join(PROJECT_ROOT, '.scratch', 'ui-screenshots');
const CHROMIUM = findChromium();

let l: Lane;
let admin: Admin;
let producer: Producer;
let ui: Awaited<ReturnType<typeof startCommand>> | undefined;
let browser: Browser | undefined;
let page: Page;
let base: string;
let writer: EmulatorStatusWriter | undefined;

const HOSTILE = JSON.stringify({
  quote: '<img src=x onerror="window.__pwned=1"> \u0007bell \u202eevil',
  character: '<b>Bart</b>',
});
const quote = (i: number) =>
  JSON.stringify({ quote: `Quote ${i}: Mmm... donuts.`, character: 'Homer', image: `https://example.test/${i}.png` });

/** What each record's fate must be, by `partition/offset`. */
const EXPECTED: Record<string, string> = {
  '0/0': 'stored',
  '0/1': 'stored',
  '0/2': 'stored',
  '0/3': 'stored',
  '0/4': 'stored',
  '1/0': 'stored',
  '1/1': 'dead-letter',
  '1/2': 'dead-letter',
  '1/3': 'dead-letter',
  '2/0': 'stored',
  '2/1': 'tombstone',
  '2/2': 'stored',
};

async function produceRecords(): Promise<void> {
  const send = (
    partition: number,
    messages: { key?: string | null; value: Buffer | string | null; headers?: Record<string, string> }[],
  ) => producer.send({ topic: l.topic, acks: -1, messages: messages.map((m) => ({ ...m, partition })) });
  await send(
    0,
    [0, 1, 2, 3, 4].map((i) => ({ key: 'Homer', value: quote(i), headers: { source: 'ui-test' } })),
  );
  await send(1, [
    { key: '<i>key</i>', value: HOSTILE, headers: { '<h>': '<script>window.__pwned=3</script>' } },
    { key: 'bad-json', value: '{"quote": <script>window.__pwned=2</script>' },
    { key: 'bad-schema', value: JSON.stringify({ quote: '', character: 'Lisa' }) },
    { key: 'bad-utf8', value: Buffer.from([0xff, 0xfe, 0x00, 0x41]) },
  ]);
  await send(2, [{ key: 'Marge', value: quote(10) }, { key: 'Marge', value: null }, { value: quote(11) }]);
}

const highWatermark = async () => (await admin.fetchTopicOffsets(l.topic)).reduce((s, p) => s + Number(p.high), 0);

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

/** The fate of every record the Records page shows, by `partition/offset`. */
async function fates(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const partition of [0, 1, 2]) {
    await page.goto(`${base}records?topic=${l.topic}&partition=${partition}&from=0`);
    for (const row of await page.locator('tr[data-offset]').all()) {
      out[`${partition}/${await row.getAttribute('data-offset')}`] = (await row.getAttribute('data-fate')) as string;
    }
  }
  return out;
}

const pwned = () => page.evaluate(() => (globalThis as unknown as { __pwned?: number }).__pwned);

before(async () => {
  // `npm test` installs it first (scripts/test-setup.ts).
  assert.ok(CHROMIUM, 'no chromium: `npm test` installs it, or apt-get install -y chromium (or set CHROMIUM_PATH)');
  mkdirSync(SHOTS, { recursive: true });
  l = await lane('ui');
  const kafka = createKafka(l.sb.config, 'ui-test');
  admin = kafka.admin();
  producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await Promise.all([admin.connect(), producer.connect()]);
  await produceRecords();
  ui = await startCommand(TSX, ['cli/ui.ts', '--port', '0'], l.env, /UI on http:\/\/127\.0\.0\.1:\d+\//, 60_000);
  base = /(http:\/\/127\.0\.0\.1:\d+\/)/.exec(ui.output())?.[1] as string;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.setDefaultTimeout(20_000);
});

after(async () => {
  writer?.remove();
  await browser?.close().catch(() => undefined);
  if (ui) await stopCommand(ui.child);
  await producer?.disconnect().catch(() => undefined);
  await admin?.disconnect().catch(() => undefined);
  await l?.close();
});

test(
  'before the emulator runs: every record is "not yet consumed" and the lag is all of them',
  { timeout: 60_000 },
  async () => {
    const before = await fates();
    assert.deepEqual(Object.keys(before).sort(), Object.keys(EXPECTED).sort());
    assert.ok(
      Object.values(before).every((f) => f === 'not-consumed'),
      JSON.stringify(before),
    );
    await page.goto(`${base}topics?topic=${l.topic}`);
    await page.locator(`tr[data-group="${l.env.KAFKA_GROUP_ID}"][data-total-lag="12"]`).waitFor();
  },
);

test(
  'after the emulator: the lag reaches 0 on the live page, and every record shows its fate',
  { timeout: 240_000 },
  async () => {
    await page.goto(`${base}topics?topic=${l.topic}`);
    await emulate(l);
    // No reload: the page's live refresh must bring the new lag.
    await page.locator(`tr[data-group="${l.env.KAFKA_GROUP_ID}"][data-total-lag="0"]`).waitFor({ timeout: 15_000 });
    await shot('topics');

    assert.deepEqual(await fates(), EXPECTED);
    // The last page shown is partition 2; partition 1 holds the hostile record and the dead letters.
    await page.goto(`${base}records?topic=${l.topic}&partition=1&from=0`);
    const deadJson = page.locator('tr[data-offset="1"]');
    assert.match(await deadJson.locator('.fate').innerText(), /json/);
    assert.match(await page.locator('tr[data-offset="2"] .fate').innerText(), /schema/);
    assert.match(await page.locator('tr[data-offset="3"] .fate').innerText(), /utf8/);
    assert.match(await page.locator('tr[data-offset="3"] .value').innerText(), /4 bytes, not UTF-8/);
    // Hostile content is shown as text, control characters visible, and nothing of it runs.
    const hostile = await page.locator('tr[data-offset="0"] .value').innerText();
    assert.match(hostile, /<img src=x onerror=/);
    assert.match(hostile, /\\u0007bell \\u202eevil/);
    assert.match(await page.locator('tr[data-offset="0"]').innerText(), /<script>window.__pwned=3<\/script>/);
    assert.equal(await page.locator('tr[data-offset="0"] img, tr[data-offset="0"] b').count(), 0);
    assert.equal(await pwned(), undefined);
    await page.locator('tr[data-offset="0"] details').first().locator('summary').click();
    await shot('records');
  },
);

test('a dead letter replayed from the page is re-published once; a selection too', { timeout: 60_000 }, async () => {
  await page.goto(`${base}dead-letters?topic=${l.topic}`);
  assert.equal(await page.locator('tbody tr[data-id]').count(), 3);
  assert.match(
    await page.locator(`tr[data-id="${l.topic}/1/1"] .value`).innerText(),
    /<script>window.__pwned=2<\/script>/,
  );
  assert.equal(await pwned(), undefined);
  await shot('dead-letters');

  const high0 = await highWatermark();
  await page.locator(`tr[data-id="${l.topic}/1/1"] button.replay-one`).click();
  await page.locator('.notice.ok').waitFor();
  assert.match(await page.locator('.notice').innerText(), new RegExp(`replayed 1: ${l.topic}/1/1`));
  assert.equal(await highWatermark(), high0 + 1, 'one record re-published');

  // Again, from the list that includes replayed ones: nothing is sent.
  await page.goto(`${base}dead-letters?topic=${l.topic}&replayed=on`);
  const again = page.locator(`tr[data-id="${l.topic}/1/1"]`);
  assert.equal(await again.getAttribute('data-replayed'), 'yes');
  await again.locator('button.replay-one').click();
  await page.locator('.notice.info').waitFor();
  assert.match(await page.locator('.notice').innerText(), /nothing to replay/);
  assert.equal(await highWatermark(), high0 + 1, 'a second replay sends nothing');

  // A selection: the two others.
  await page.goto(`${base}dead-letters?topic=${l.topic}`);
  await page.locator(`input[name="id"][value="${l.topic}/1/2"]`).check();
  await page.locator(`input[name="id"][value="${l.topic}/1/3"]`).check();
  await page.locator('button.replay-selected').click();
  await page.locator('.notice.ok').waitFor();
  assert.match(await page.locator('.notice').innerText(), /replayed 2:/);
  assert.equal(await highWatermark(), high0 + 3);
});

test('the emulator page says when none runs, and follows a published status', { timeout: 60_000 }, async () => {
  await page.goto(`${base}emulator?topic=${l.topic}`);
  // The emulator run earlier in this file published its status and stopped: no emulator is running.
  const state = page.locator('[data-emulator="none"], [data-emulator="stopped"]');
  await state.first().waitFor();
  assert.ok(['none', 'stopped'].includes(String(await state.first().getAttribute('data-emulator'))));
  assert.equal(await page.locator('[data-emulator="live"]').count(), 0);

  let t = Date.now() - 30_000;
  writer = new EmulatorStatusWriter({ topic: l.topic, groupId: l.env.KAFKA_GROUP_ID, now: () => t });
  const byKind = { json: 1, schema: 1, utf8: 1 };
  for (let i = 1; i <= 30; i++) {
    t += 1_000;
    const rate = Math.round(400 + 300 * Math.sin(i / 4));
    writer.update({
      events: i,
      records: i * 400,
      written: { postgres: i * 399, mongo: i * 399 },
      alreadyPresent: 0,
      deadLettered: 3,
      deadLettersByKind: byKind,
      tombstones: 1,
      retries: i > 20 ? 2 : 0,
      rate,
      lag: { [`${l.topic}-0`]: 30 - i },
    });
  }
  await page.goto(`${base}emulator?topic=${l.topic}`);
  await page.locator('[data-emulator="live"]').waitFor();
  await page.locator('#rate-chart canvas').waitFor();
  assert.equal(await page.locator('#rate-chart').getAttribute('data-samples'), '30');
  assert.equal(await page.locator('td[data-stat="retries"]').innerText(), '2');
  assert.match(await page.locator('main').innerText(), /json\s+1/);
  await shot('emulator');

  writer.stop();
  // The live fragment notices by itself.
  await page.locator('[data-emulator="stopped"]').waitFor({ timeout: 10_000 });
  assert.match(await page.locator('main').innerText(), /No emulator running/);
});

test(
  'stores: counts, a consistency check that finds a missing row and document, and repair',
  { timeout: 60_000 },
  async () => {
    await page.goto(`${base}stores?topic=${l.topic}&check=1`);
    assert.equal(await page.locator('tr[data-store="postgres"] .topic-count').innerText(), '8');
    assert.equal(await page.locator('tr[data-store="mongo"] .topic-count').innerText(), '8');
    assert.equal(await page.locator('tr[data-store="dead-letters"] .topic-count').innerText(), '3');
    for (const row of await page.locator('table.consistency tbody tr').all())
      assert.equal(await row.getAttribute('data-differences'), '0');

    const mongo = await MongoClient.connect(l.sb.config.MONGO_URL);
    try {
      const collection = mongo.db(l.sb.config.MONGO_DATABASE).collection(l.sb.config.MONGO_COLLECTION);
      const original = await collection.findOne({ _id: { $regex: /-0-1$/ } as never });
      assert.ok(original);
      await collection.deleteOne({ _id: original._id });
      await l.sb.query(`delete from ${l.sb.tables.records} where topic = $1 and partition = 2 and "offset" = 2`, [
        l.topic,
      ]);

      await page.goto(`${base}stores?topic=${l.topic}&check=1`);
      const onlyPg = page.locator('[data-missing="in Postgres, missing from Mongo"][data-partition="0"]');
      assert.match(await onlyPg.innerText(), new RegExp(`${l.topic}/0/1`));
      // Listed by full identity: the emulator's cluster key, then the coordinates.
      assert.match(
        String(await onlyPg.locator('li[data-identity]').getAttribute('data-identity')),
        new RegExp(`^[A-Za-z0-9_-]{10}/${l.topic}/0/1$`),
      );
      const onlyMongo = page.locator('[data-missing="in Mongo, missing from Postgres"][data-partition="2"]');
      assert.match(await onlyMongo.innerText(), new RegExp(`${l.topic}/2/2`));
      await shot('stores');

      await page.locator('button.repair').click();
      await page.locator('.notice.ok').waitFor();
      assert.match(await page.locator('.notice').innerText(), /1 written to Postgres, 1 written to Mongo/);
      for (const row of await page.locator('table.consistency tbody tr').all())
        assert.equal(await row.getAttribute('data-differences'), '0');
      const repaired = await collection.findOne({ _id: original._id });
      assert.deepEqual(
        { ...repaired, ingestedAt: undefined },
        { ...original, ingestedAt: undefined },
        'the document is rebuilt as the sink wrote it',
      );
      assert.deepEqual(await l.sb.counts(), { rows: 8, docs: 8, deadLetters: 3 });
    } finally {
      await mongo.close();
    }
  },
);

/** A raw request, with headers a browser would not let a page set. */
function request(
  method: string,
  pathname: string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: http.IncomingHttpHeaders }> {
  const url = new URL(pathname, base);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: url.hostname, port: url.port, path: url.pathname + url.search, method, headers },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.end(method === 'POST' ? 'one=x/0/0' : undefined);
  });
}

test(
  'the server refuses foreign hosts and cross-origin posts, and forbids inline script',
  { timeout: 30_000 },
  async () => {
    const host = new URL(base).host;
    const ok = await request('GET', '/assets/ui.css', { host });
    assert.equal(ok.status, 200);
    assert.match(String(ok.headers['content-security-policy']), /script-src 'self'/);
    assert.equal((await request('GET', '/topics', { host: 'attacker.example' })).status, 421, 'DNS rebinding');
    const form = { host, 'content-type': 'application/x-www-form-urlencoded' };
    assert.equal(
      (await request('POST', '/dead-letters/replay', { ...form, origin: 'http://attacker.example' })).status,
      403,
    );
    assert.equal((await request('POST', '/dead-letters/replay', form)).status, 403, 'no Origin, no Sec-Fetch-Site');
    assert.equal((await request('GET', '/nowhere', { host })).status, 404);
    assert.equal((await request('GET', '/records?partition=-1', { host })).status, 400);
  },
);
