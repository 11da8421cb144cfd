/**
 * `stack up --uis` for real, on the stack npm test brought up: pgAdmin 4 (PyPI) and mongo-express
 * (npm) are installed in the stack folder (the first time: a minute or two; cached after), serve
 * without a login, pgAdmin lists (and connects to) the registered Postgres, and mongo-express shows
 * the sink's database. Then only the UIs are stopped, unless they were running before the test.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { MongoClient } from 'mongodb';
import type { ServiceState } from '../../tools/stack/stack';
import { stackConfig, uniqueName } from '../helpers/env';
import { stackCli } from '../helpers/run';

const cfg = stackConfig();
const UI_NAMES = ['pgadmin', 'mongo-express'];
const INSTALL_MS = 10 * 60_000;
let mongo: MongoClient;
const collection = uniqueName('uis');
let runningBefore = false;

async function uiStates(): Promise<ServiceState[]> {
  const r = await stackCli(['status', '--json']);
  return (JSON.parse(r.stdout) as ServiceState[]).filter((s) => UI_NAMES.includes(s.name));
}

/** Where `status` says a UI serves (the compose port, unless something else held it). */
async function baseUrl(name: string): Promise<string> {
  const s = (await uiStates()).find((x) => x.name === name);
  assert.ok(s?.up, `${name} is not up: ${JSON.stringify(s)}`);
  return `http://${s.address}`;
}

before(async () => {
  runningBefore = (await uiStates()).some((s) => s.pid !== undefined);
  // A collection of this test's own in the sink's database, so mongo-express has it to show.
  mongo = await MongoClient.connect(cfg.MONGO_URL, { serverSelectionTimeoutMS: 5_000 });
  await mongo.db(cfg.MONGO_DATABASE).collection(collection).insertOne({ quote: "D'oh!" });
});

after(async () => {
  await mongo
    .db(cfg.MONGO_DATABASE)
    .collection(collection)
    .drop()
    .catch(() => undefined);
  await mongo.close();
  if (!runningBefore) await stackCli(['down', '--uis']);
});

test(
  'stack up --uis: installs (first time) and starts pgAdmin and mongo-express, and status lists them',
  { timeout: INSTALL_MS + 60_000 },
  async () => {
    const r = await stackCli(['up', '--uis'], {}, INSTALL_MS);
    assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /pgadmin: http:\/\/127\.0\.0\.1:\d+\/ \(pgAdmin 4/);
    assert.match(r.stderr, /mongo-express: http:\/\/127\.0\.0\.1:\d+\/ \(mongo-express/);
    const states = await uiStates();
    assert.deepEqual(
      states.map((s) => [s.name, s.mode, s.up, typeof s.pid]),
      [
        ['pgadmin', 'native', true, 'number'],
        ['mongo-express', 'native', true, 'number'],
      ],
    );
    // On the ports compose uses, when they were free.
    for (const [s, port] of [
      [states[0], 5050],
      [states[1], 8081],
    ] as const) {
      if (s.address !== `127.0.0.1:${port}`) assert.match(r.stderr, new RegExp(`127\\.0\\.0\\.1:${port} is in use`));
    }
  },
);

/** A tiny cookie jar: pgAdmin keeps the desktop user's session in a cookie. */
function session(base: string) {
  const cookies = new Map<string, string>();
  return async (pathname: string, init: RequestInit = {}): Promise<Response> => {
    const headers = new Headers(init.headers);
    headers.set('cookie', [...cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    const res = await fetch(`${base}${pathname}`, {
      ...init,
      headers,
      redirect: 'manual',
      signal: AbortSignal.timeout(30_000),
    });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair.indexOf('=');
      cookies.set(pair.slice(0, i), pair.slice(i + 1));
    }
    return res;
  };
}

interface Node {
  _id: number | string;
  label: string;
}

test('pgAdmin: no login page, the server of docker/pgadmin/servers.json is listed, and it connects without a password prompt', async () => {
  const get = session(await baseUrl('pgadmin'));
  const root = await get('/');
  assert.equal(root.status, 302);
  assert.match(root.headers.get('location') ?? '', /\/browser\/$/, 'desktop mode: straight to the browser, no /login');
  assert.equal((await get('/browser/')).status, 200);

  // The API wants the CSRF token the page's script carries.
  const utils = await (await get('/browser/js/utils.js')).text();
  const token = /csrf_token'\] = '([^']+)'/.exec(utils)?.[1];
  assert.ok(token, 'no CSRF token in /browser/js/utils.js');
  const api = async <T>(pathname: string, method = 'GET'): Promise<T> => {
    const res = await get(pathname, {
      method,
      headers: { 'X-pgA-CSRFToken': token, 'content-type': 'application/json' },
    });
    assert.equal(res.status, 200, `${method} ${pathname}: ${res.status} ${await res.clone().text()}`);
    return (await res.json()) as T;
  };
  const groups = (await api<{ data: Node[] }>('/browser/server_group/nodes/')).data;
  const servers: (Node & { gid: number | string; db: string; host: string; username: string })[] = [];
  for (const g of groups) {
    const listed = (
      await api<{ result: (Node & { db: string; host: string; username: string })[] }>(
        `/browser/server/nodes/${g._id}/`,
      )
    ).result;
    servers.push(...listed.map((s) => ({ ...s, gid: g._id })));
  }
  const ours = servers.filter((s) => s.label === 'quotes-sink (simpsons)');
  assert.equal(ours.length, 1, `registered once: ${JSON.stringify(servers)}`);
  const pg = new URL(cfg.POSTGRES_URL);
  assert.deepEqual(
    [ours[0].host, ours[0].db, ours[0].username],
    [pg.hostname, 'simpsons', decodeURIComponent(pg.username)],
  );

  const connected = await api<{ success: number; data: { connected: boolean; db: string } }>(
    `/browser/server/connect/${ours[0].gid}/${ours[0]._id}`,
    'POST',
  );
  assert.equal(connected.data.connected, true, JSON.stringify(connected));
});

test(
  "mongo-express: no login, the sink's database on the home page, and its collections",
  { timeout: 240_000 },
  async () => {
    const base = await baseUrl('mongo-express');
    // The home page asks FerretDB for every database's size: seconds, not milliseconds.
    const home = await fetch(`${base}/`, { signal: AbortSignal.timeout(90_000) });
    assert.equal(home.status, 200);
    const html = await home.text();
    assert.match(html, /<title>Home - Mongo Express<\/title>/);
    assert.ok(html.includes(`href="/db/${cfg.MONGO_DATABASE}/"`), `no ${cfg.MONGO_DATABASE} on the home page`);
    const db = await fetch(`${base}/db/${cfg.MONGO_DATABASE}/`, { signal: AbortSignal.timeout(90_000) });
    assert.equal(db.status, 200);
    assert.ok((await db.text()).includes(collection), `${collection} not listed in ${cfg.MONGO_DATABASE}`);
  },
);

test('stack down --uis stops only the UIs: the stack keeps serving', async (t) => {
  if (runningBefore) return t.skip('the UIs ran before this test: left running');
  const r = await stackCli(['down', '--uis']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /pgadmin: stopped/);
  assert.match(r.stderr, /mongo-express: stopped/);
  const st = await stackCli(['status', '--json']);
  assert.equal(st.code, 0, st.stdout);
  const states = JSON.parse(st.stdout) as ServiceState[];
  assert.deepEqual(
    states.filter((s) => UI_NAMES.includes(s.name)),
    [],
  );
  assert.equal(states.length, 3);
  assert.ok(states.every((s) => s.up));
});
