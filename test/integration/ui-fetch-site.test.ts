/**
 * `npm run ui` refuses cross-site and same-site subresource requests (issue 19): a page elsewhere
 * can make a browser GET `/records` (which joins a consumer group) or `/stores?check=1` (which
 * reads both stores) with an <img>, and must get a 403 before any of that work starts. A top-level
 * navigation from another site (a link) and the pages' own requests still work. Raw HTTP with
 * the Sec-Fetch-* headers a browser sends: no browser needed.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, test } from 'node:test';
import { Partitioners, type Producer } from 'kafkajs';
import { createKafka } from '../../tools/kafka';
import { BROWSE_GROUP_PREFIX } from '../../tools/ui/kafka-view';
import { lane, type Lane } from '../helpers/lane';
import { startCommand, stopCommand, TSX } from '../helpers/run';

let l: Lane;
let producer: Producer;
let ui: Awaited<ReturnType<typeof startCommand>> | undefined;
let base: URL;

/** The Sec-Fetch-* headers of what a browser sends, by the kind of request. */
const FETCH = {
  crossSiteImage: { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'no-cors', 'sec-fetch-dest': 'image' },
  sameSiteScript: { 'sec-fetch-site': 'same-site', 'sec-fetch-mode': 'no-cors', 'sec-fetch-dest': 'script' },
  crossSiteFrame: { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'iframe' },
  crossSiteFetch: { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'cors', 'sec-fetch-dest': 'empty' },
  crossSiteLink: {
    'sec-fetch-site': 'cross-site',
    'sec-fetch-mode': 'navigate',
    'sec-fetch-dest': 'document',
    'sec-fetch-user': '?1',
  },
  sameOriginFetch: { 'sec-fetch-site': 'same-origin', 'sec-fetch-mode': 'cors', 'sec-fetch-dest': 'empty' },
  typedUrl: { 'sec-fetch-site': 'none', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' },
} as const;

function get(
  pathname: string,
  headers: Record<string, string>,
): Promise<{ status: number; type: string; body: string; location?: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: base.hostname, port: base.port, path: pathname, headers: { host: base.host, ...headers } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            type: String(res.headers['content-type']),
            body,
            location: res.headers.location,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/**
 * The UI's browse groups, right now: listed from the moment the UI joins until it deletes the
 * group (its members, which name the topic, only for part of that time: under load the watch
 * missed them). Only this file's UI runs, and groups there before a request are left out.
 */
async function browseGroups(): Promise<string[]> {
  return (await l.admin.listGroups()).groups.map((g) => g.groupId).filter((g) => g.startsWith(BROWSE_GROUP_PREFIX));
}

/**
 * `request` while watching Kafka for a browse group on the lane's topic: the UI deletes its group
 * when the page is done, so a list before and after would miss it; this polls while it runs.
 */
async function watchingGroups<T>(request: () => Promise<T>): Promise<{ result: T; groups: string[] }> {
  const seen = new Set<string>((await browseGroups()).map((g) => `before:${g}`));
  let running = true;
  const poll = (async () => {
    while (running) {
      for (const g of await browseGroups().catch(() => [])) seen.add(g);
      await new Promise((r) => setTimeout(r, 5)); // a page reads in about 40 ms
    }
  })();
  try {
    const result = await request();
    // A refused request must not leave work behind that starts a moment later.
    await new Promise((r) => setTimeout(r, 1_000));
    return { result, groups: [...seen] };
  } finally {
    running = false;
    await poll;
  }
}

before(async () => {
  l = await lane('uifs');
  producer = createKafka(l.sb.config, 'ui-fetch-site-test').producer({
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  await producer.send({
    topic: l.topic,
    acks: -1,
    messages: [0, 1, 2].map((i) => ({
      partition: 0,
      key: 'Homer',
      value: JSON.stringify({ quote: `Q${i}`, character: 'Homer' }),
    })),
  });
  ui = await startCommand(TSX, ['cli/ui.ts', '--port', '0'], l.env, /UI on http:\/\/127\.0\.0\.1:\d+\//, 60_000);
  base = new URL(/(http:\/\/127\.0\.0\.1:\d+\/)/.exec(ui.output())?.[1] as string);
});

after(async () => {
  if (ui) await stopCommand(ui.child);
  await producer?.disconnect().catch(() => undefined);
  await l?.close();
});

const records = () => `/records?topic=${l.topic}&partition=0&from=0`;

test(
  'a same-origin fetch of /records works, and joins a browse group (so the watch below can see one)',
  { timeout: 60_000 },
  async () => {
    // The group lives a moment: on a loaded machine one poll may miss it, so up to five tries. That
    // the watch sees it at all is what the refusals below rely on.
    let seen = false;
    for (let attempt = 0; attempt < 5 && !seen; attempt++) {
      const { result, groups } = await watchingGroups(() => get(records(), FETCH.sameOriginFetch));
      assert.equal(result.status, 200, result.body);
      assert.match(result.body, /Q2/);
      seen = groups.length > 0;
    }
    assert.ok(seen, 'no browse group seen while /records ran, in five tries');
  },
);

test(
  'a cross-site <img> of /records is refused with 403 and joins no consumer group',
  { timeout: 60_000 },
  async () => {
    const { result, groups } = await watchingGroups(() => get(records(), FETCH.crossSiteImage));
    assert.equal(result.status, 403);
    assert.match(result.type, /^text\/plain/);
    assert.match(result.body, /cross-site/);
    assert.ok(result.body.length < 200, result.body);
    assert.deepEqual(groups, []);
  },
);

test('/stores?check=1 from another site or a sibling port is refused with 403', { timeout: 60_000 }, async () => {
  const check = `/stores?check=1&topic=${l.topic}`;
  for (const headers of [FETCH.crossSiteImage, FETCH.sameSiteScript, FETCH.crossSiteFrame, FETCH.crossSiteFetch]) {
    const r = await get(check, headers);
    assert.equal(r.status, 403, JSON.stringify(headers));
  }
  const { result, groups } = await watchingGroups(() => get(records(), FETCH.sameSiteScript));
  assert.equal(result.status, 403);
  assert.deepEqual(groups, []);
});

test(
  'a top-level navigation from another site, a typed URL and curl still get the pages',
  { timeout: 60_000 },
  async () => {
    const root = await get('/', FETCH.crossSiteLink);
    assert.equal(root.status, 302);
    assert.equal(root.location, '/topics');
    assert.equal((await get('/topics', FETCH.crossSiteLink)).status, 200);
    assert.equal((await get(`/stores?check=1&topic=${l.topic}`, FETCH.crossSiteLink)).status, 200);
    assert.equal((await get('/topics', FETCH.typedUrl)).status, 200);
    assert.equal((await get('/topics', {})).status, 200, 'no Sec-Fetch-* headers (curl)');
    assert.equal((await get('/topics/live', FETCH.sameOriginFetch)).status, 200);
  },
);
