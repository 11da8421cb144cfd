/** The UI's pure parts: escaping, fates, how bytes are shown, the emulator's status file, the inspector helpers. */
import { fingerprint } from '../../lib/event/identity';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { quoteType } from '../helpers/quote-type';
import {
  byRecordId,
  checkRange,
  MAX_RANGE_OFFSETS,
  StoredPayloadError,
  toGoodRecord,
  type StoredRecord,
} from '../../lib/sink/inspect';
import { fateLabel, fateOf, offsetRanges, show } from '../../tools/ui/fate';
import { escapeHtml, html, raw, visible } from '../../tools/ui/html';
import { lagOf } from '../../tools/ui/kafka-view';
import { intParam, UiInputError } from '../../tools/ui/route';
import { crossSiteRefusal } from '../../tools/ui/server';
import { EmulatorStatusWriter, readEmulatorStatuses, type EmulatorTotals } from '../../tools/ui/status-file';

const dir = mkdtempSync(path.join(tmpdir(), 'ui-status-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('html escapes every interpolated value, arrays included; Html passes through', () => {
  const hostile = `<img src=x onerror="alert(1)">&'`;
  assert.equal(
    html`<td title="${hostile}">${hostile}</td>`.value,
    '<td title="&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp;&#39;">&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp;&#39;</td>',
  );
  assert.equal(html`${['<a>', raw('<b>'), html`<i>${'<c>'}</i>`]}`.value, '&lt;a&gt;<b><i>&lt;c&gt;</i>');
  assert.equal(html`${null}${undefined}${false}${0}`.value, '0');
});

test('control characters and bidi overrides are made visible; newlines only kept in multiline text', () => {
  assert.equal(visible('a\u0000b\u0007c\u202ed\u009be'), 'a\\u0000b\\u0007c\\u202ed\\u009be');
  assert.equal(visible('a\nb\tc\rd'), 'a\\u000ab\\u0009c\\u000dd');
  assert.equal(visible('a\nb\tc\rd', true), 'a\nb\tc\\u000dd');
  assert.equal(escapeHtml('<\u2066>'), '&lt;\\u2066&gt;');
});

test('fate: the stores decide first, then the committed offset, then tombstone or missing', () => {
  const s = {} as StoredRecord;
  const dl = {} as never;
  /** What two stores hold: `postgres` and `mongo`, each a copy or nothing. */
  const held = (postgres?: StoredRecord, mongo?: StoredRecord) => ({ stored: { postgres, mongo } });
  assert.equal(fateOf(5, false, held(s, s), -1), 'stored', 'written before its offset is committed');
  assert.equal(fateOf(5, false, { ...held(), deadLetter: dl }, 9), 'dead-letter');
  assert.equal(fateOf(5, false, held(s), 9), 'postgres-only');
  assert.equal(fateOf(5, false, held(undefined, s), 9), 'mongo-only');
  assert.equal(fateOf(5, true, held(), 5), 'not-consumed');
  assert.equal(fateOf(5, true, held(), -1), 'not-consumed');
  assert.equal(fateOf(5, true, held(), 6), 'tombstone');
  assert.equal(fateOf(5, false, held(), 6), 'missing');
  // A third store, by its name: in all, in one alone, in two of three.
  const three = (a?: StoredRecord, b?: StoredRecord, c?: StoredRecord) => ({
    stored: { postgres: a, mongo: b, mem: c },
  });
  assert.equal(fateOf(5, false, three(s, s, s), 9), 'stored');
  assert.equal(fateOf(5, false, three(undefined, undefined, s), 9), 'mem-only');
  assert.equal(fateOf(5, false, three(s, undefined, s), 9), 'partial');
});

test('fate labels name the stores from their labels', () => {
  const s = {} as StoredRecord;
  const stores = [
    { name: 'postgres', label: 'Postgres', unit: 'row' },
    { name: 'mongo', label: 'Mongo', unit: 'document' },
  ];
  const both = { stored: { postgres: s, mongo: s } };
  const pgOnly = { stored: { postgres: s, mongo: undefined } };
  assert.equal(fateLabel('stored', stores, both), 'Postgres row + Mongo document');
  assert.equal(fateLabel('postgres-only', stores, pgOnly), 'Postgres row only (missing from Mongo)');
  assert.equal(fateLabel('missing', stores, { stored: {} }), 'consumed, in no store (deleted by a later tombstone?)');
  const three = [...stores, { name: 'mem', label: 'Memory', unit: 'entry' }];
  assert.equal(
    fateLabel('partial', three, { stored: { postgres: s, mongo: undefined, mem: s } }),
    'Postgres row + Memory entry only (missing from Mongo)',
  );
});

test('bytes are shown as pretty JSON, text, or base64 when not UTF-8', () => {
  assert.deepEqual(show(null), { as: 'none' });
  assert.deepEqual(show(Buffer.from('{"a":1}')), { as: 'json', text: '{\n  "a": 1\n}' });
  assert.deepEqual(show(Buffer.from('plain')), { as: 'text', text: 'plain' });
  assert.deepEqual(show(Buffer.from([0xff, 0x00])), { as: 'binary', text: '/wA=', bytes: 2 });
});

test('offset lists shorten to ranges; lag counts everything while nothing is committed', () => {
  assert.equal(offsetRanges([0, 1, 2, 5, 7, 8]), '0..2, 5, 7..8');
  assert.equal(offsetRanges([]), '');
  assert.equal(lagOf({ partition: 0, low: 3, high: 10 }, -1), 7);
  assert.equal(lagOf({ partition: 0, low: 3, high: 10 }, 8), 2);
});

test('ranges are bounded; parameters are checked', () => {
  assert.doesNotThrow(() => checkRange({ topic: 't', partition: 0, from: 0, to: MAX_RANGE_OFFSETS - 1 }));
  assert.throws(() => checkRange({ topic: 't', partition: 0, from: 0, to: MAX_RANGE_OFFSETS }), /wider than/);
  assert.throws(() => checkRange({ topic: 't', partition: 0, from: 5, to: 4 }), /not a range/);
  const q = new URLSearchParams({ n: '12', bad: '1e3', neg: '-1' });
  assert.equal(intParam(q, 'n', 0, 0, 100), 12);
  assert.equal(intParam(q, 'missing', 7, 0, 100), 7);
  assert.throws(() => intParam(q, 'neg', 0, 0, 100), UiInputError);
  assert.throws(() => intParam(q, 'n', 0, 0, 10), /from 0 to 10/);
});

const stored = (over: Partial<StoredRecord> = {}): StoredRecord => ({
  store: 'postgres',
  cluster: 'k1',
  coordinates: { topic: 't', partition: 1, offset: 2 },
  keyText: 'Homer',
  keyBase64: Buffer.from('Homer').toString('base64'),
  headers: [{ name: 'source', value: 'x' }],
  payload: { quote: 'Doh', character: 'Homer', extra: 1 },
  rawValue: '{"quote":"Doh","character":"Homer","extra":1}',
  timestamp: new Date(1_700_000_000_000),
  timestampType: 'CREATE_TIME',
  ingestedAt: new Date(1_700_000_001_000),
  raw: {},
  ...over,
});

test('a stored record becomes the GoodRecord the sink wrote; a payload failing the schema is refused', () => {
  const g = toGoodRecord(quoteType, stored());
  assert.deepEqual(g.meta, {
    cluster: 'k1',
    coordinates: { topic: 't', partition: 1, offset: 2 },
    timestamp: 1_700_000_000_000,
    timestampType: 'CREATE_TIME',
    keyText: 'Homer',
    keyBase64: 'SG9tZXI=',
    headers: [{ name: 'source', value: 'x' }],
    fingerprint: fingerprint({
      timestamp: 1_700_000_000_000,
      keyBase64: 'SG9tZXI=',
      valueBase64: Buffer.from('{"quote":"Doh","character":"Homer","extra":1}').toString('base64'),
      headers: [{ name: 'source', value: 'x' }],
    }),
  });
  assert.equal(g.valueText, '{"quote":"Doh","character":"Homer","extra":1}');
  assert.equal(Buffer.from(g.valueBase64, 'base64').toString(), g.valueText);
  assert.equal(g.value.character, 'Homer');
  assert.equal(toGoodRecord(quoteType, stored({ rawValue: null })).valueText, JSON.stringify(stored().payload));
  assert.throws(() => toGoodRecord(quoteType, stored({ payload: { quote: '' } })), StoredPayloadError);
});

test('records of one id from several clusters: the latest ingested wins', () => {
  const older = stored({ cluster: 'a', ingestedAt: new Date(1) });
  const newer = stored({ cluster: 'b', ingestedAt: new Date(2) });
  assert.equal(byRecordId([newer, older]).get('t-1-2')?.cluster, 'b');
  assert.equal(byRecordId([older, newer]).get('t-1-2')?.cluster, 'b');
});

const totals = (i: number): EmulatorTotals => ({
  events: i,
  records: i * 10,
  written: { postgres: i, mongo: i },
  alreadyPresent: 0,
  deadLettered: 1,
  deadLettersByKind: { json: 1 },
  tombstones: 0,
  retries: 0,
  rate: i * 10,
  lag: { 'quotes-0': 5 - i },
});

test('status file: written atomically, read back per topic, live until stopped or stale or its process gone', () => {
  let now = 1_000_000;
  const w = new EmulatorStatusWriter({ topic: 'quotes', groupId: 'g', dir, now: () => now, maxSamples: 3 });
  for (let i = 1; i <= 5; i++) {
    now += 1_000;
    w.update(totals(i));
  }
  assert.deepEqual(readdirSync(dir), [`${process.pid}.json`], 'no temporary file left behind');
  const [s] = readEmulatorStatuses({ dir, topic: 'quotes', now });
  assert.equal(s.live, true);
  assert.deepEqual(s.samples, [
    [1_003_000, 30],
    [1_004_000, 40],
    [1_005_000, 50],
  ]);
  assert.deepEqual(
    { records: s.records, byKind: s.deadLettersByKind, lag: s.lag },
    { records: 50, byKind: { json: 1 }, lag: { 'quotes-0': 0 } },
  );
  assert.deepEqual(readEmulatorStatuses({ dir, topic: 'other', now }), []);
  now += 250; // a quicker tick updates the totals but adds no sample
  w.update({ ...totals(6), rate: 99, elapsedMs: 1 } as EmulatorTotals);
  const quick = readEmulatorStatuses({ dir, now })[0];
  assert.deepEqual(
    [quick.samples.length, quick.samples.at(-1), quick.rate, 'elapsedMs' in quick],
    [3, [1_005_000, 50], 99, false],
  );
  assert.equal(readEmulatorStatuses({ dir, now: now + 60_000 })[0].live, false, 'stale');
  w.stop();
  assert.deepEqual(
    [readEmulatorStatuses({ dir, now })[0].live, readEmulatorStatuses({ dir, now })[0].state],
    [false, 'stopped'],
  );

  // A dead process's file, and files that are not statuses, are told apart.
  writeFileSync(
    path.join(dir, '999999999.json'),
    JSON.stringify({ ...readEmulatorStatuses({ dir, now })[0], pid: 999_999_999, state: 'running', live: undefined }),
  );
  writeFileSync(path.join(dir, '123.json'), '{"half": ');
  const all = readEmulatorStatuses({ dir, now });
  assert.deepEqual(
    all.map((x) => [x.pid, x.live]).sort(),
    [
      [999_999_999, false],
      [process.pid, false],
    ].sort(),
  );
  w.remove();
});

test('crossSiteRefusal: other sites may link to a page, not load one; posts only from our pages', () => {
  const host = '127.0.0.1:8088';
  const get = (headers: Record<string, string>) => crossSiteRefusal({ method: 'GET', headers }, host);
  const fetchSite = (site: string, mode: string, dest: string) => ({
    'sec-fetch-site': site,
    'sec-fetch-mode': mode,
    'sec-fetch-dest': dest,
  });
  // Allowed: no Sec-Fetch-* (curl), our own pages, a typed URL, a link followed from anywhere.
  for (const headers of [
    {},
    fetchSite('same-origin', 'cors', 'empty'),
    fetchSite('same-origin', 'no-cors', 'image'),
    fetchSite('none', 'navigate', 'document'),
    fetchSite('cross-site', 'navigate', 'document'),
    fetchSite('same-site', 'navigate', 'document'),
  ])
    assert.equal(get(headers), undefined, JSON.stringify(headers));
  // Refused: another site's (or another local port's) subresources, frames and fetches.
  for (const headers of [
    fetchSite('cross-site', 'no-cors', 'image'),
    fetchSite('cross-site', 'no-cors', 'script'),
    fetchSite('cross-site', 'cors', 'empty'),
    fetchSite('cross-site', 'navigate', 'iframe'),
    fetchSite('same-site', 'no-cors', 'image'),
    { 'sec-fetch-site': 'cross-site' },
  ])
    assert.match(get(headers) ?? '', /refused/, JSON.stringify(headers));
  // A form post from another site is a top-level navigation too, and still refused.
  const post = (headers: Record<string, string>) => crossSiteRefusal({ method: 'POST', headers }, host);
  assert.match(
    post({ ...fetchSite('cross-site', 'navigate', 'document'), origin: 'http://evil.example' }) ?? '',
    /refused/,
  );
  assert.equal(post({ origin: `http://${host}` }), undefined);
  assert.equal(post(fetchSite('same-origin', 'navigate', 'document')), undefined);
});
