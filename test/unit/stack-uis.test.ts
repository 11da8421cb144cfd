/**
 * The native UIs of `stack up --uis` (tools/stack/pgadmin.ts, mongo-express.ts, uis.ts) without
 * installing them: pgAdmin's generated settings and server entry, mongo-express's environment,
 * the HTTP probe, the one-line install failure, and what `status` lists. The stack folder is a temp dir.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';

const dir = mkdtempSync(path.join(os.tmpdir(), 'quotes-sink-uis-unit-'));
// Before lib/config is loaded: the UIs' pid, port, marker and log files go to the temp dir.
process.env.QUOTES_SINK_STACK_DIR = dir;

let pgadmin: typeof import('../../tools/stack/pgadmin');
let me: typeof import('../../tools/stack/mongo-express');
let uis: typeof import('../../tools/stack/uis');
let proc: typeof import('../../tools/stack/proc');
let probes: typeof import('../../tools/stack/probes');
let config: typeof import('../../lib/config');

before(async () => {
  pgadmin = await import('../../tools/stack/pgadmin');
  me = await import('../../tools/stack/mongo-express');
  uis = await import('../../tools/stack/uis');
  proc = await import('../../tools/stack/proc');
  probes = await import('../../tools/stack/probes');
  config = await import('../../lib/config');
});
after(() => rmSync(dir, { recursive: true, force: true }));

const PG_URL = 'postgres://mchi:mchi1234@127.0.0.1:5433/simpsons';

test('pgadmin: config_local.py is desktop mode (no login, no master password) on loopback, data in the stack folder', () => {
  const py = pgadmin.configLocal(5051, '/x/pgadmin/data');
  for (const line of [
    'SERVER_MODE = False',
    'MASTER_PASSWORD_REQUIRED = False',
    'DATA_DIR = "/x/pgadmin/data"',
    "DEFAULT_SERVER = '127.0.0.1'",
    'DEFAULT_SERVER_PORT = 5051',
    'UPGRADE_CHECK_ENABLED = False',
  ]) {
    assert.ok(py.split('\n').includes(line), `missing: ${line}\n${py}`);
  }
});

test('pgadmin: the URL read for pgAdmin: host, port (default 5432), user, password, database, sslmode', () => {
  assert.deepEqual(pgadmin.postgresTarget(PG_URL), {
    host: '127.0.0.1',
    port: 5433,
    user: 'mchi',
    password: 'mchi1234',
    database: 'simpsons',
    sslmode: undefined,
  });
  const t = pgadmin.postgresTarget('postgresql://me%40corp:p%3Aw%40d@[::1]/?sslmode=require');
  assert.deepEqual(
    [t.host, t.port, t.user, t.password, t.database, t.sslmode],
    ['::1', 5432, 'me@corp', 'p:w@d', 'me@corp', 'require'],
  );
});

test('pgadmin: the pgpass line escapes `:` and `\\`, for any database', () => {
  assert.equal(pgadmin.pgpassLine(PG_URL), '127.0.0.1:5433:*:mchi:mchi1234\n');
  assert.equal(pgadmin.pgpassLine('postgres://u:a%3Ab%5Cc@db.example:6000/x'), 'db.example:6000:*:u:a\\:b\\\\c\n');
});

test("pgadmin: the server entry is compose's docker/pgadmin/servers.json, pointed at the stack's Postgres", () => {
  const template = JSON.parse(
    readFileSync(path.join(config.PROJECT_ROOT, 'docker', 'pgadmin', 'servers.json'), 'utf8'),
  ) as import('../../tools/stack/pgadmin').ServersFile;
  const s = pgadmin.pgadminServer(template, PG_URL, '/x/pgpass');
  assert.equal(s.Name, template.Servers['1'].Name);
  assert.equal(s.Group, template.Servers['1'].Group);
  assert.deepEqual(
    [s.Host, s.Port, s.MaintenanceDB, s.Username, s.SSLMode, s.PassFile],
    ['127.0.0.1', 5433, 'simpsons', 'mchi', 'prefer', '/x/pgpass'],
  );
  assert.equal(pgadmin.pgadminServer(template, `${PG_URL}?sslmode=disable`, '/p').SSLMode, 'disable');
});

test('pgadmin: registering again replaces our server by name and keeps the ones added by hand', () => {
  const ours = { Name: 'quotes-sink (simpsons)', Port: 5433 };
  const dumped = {
    Servers: {
      '1': { Name: 'mine', Host: 'h' },
      '2': { Name: 'quotes-sink (simpsons)', Port: 5432 },
      '3': { Name: 'other', Host: 'o' },
    },
  };
  assert.deepEqual(pgadmin.mergeServers(dumped, ours), {
    Servers: { '1': ours, '2': { Name: 'mine', Host: 'h' }, '3': { Name: 'other', Host: 'o' } },
  });
  assert.deepEqual(pgadmin.mergeServers({ Servers: {} }, ours), { Servers: { '1': ours } });
});

test("pgadmin: load-servers' summary is read (it exits 0 on errors too)", () => {
  assert.equal(pgadmin.serversAdded('----------\nAdded 0 Server Group(s) and 3 Server(s).\n'), 3);
  assert.equal(pgadmin.serversAdded('SQLite database file "x" does not exists.\n'), undefined);
});

test('mongo-express: the URL given, all databases, no basic auth, loopback, and no ME_CONFIG_* of the caller', () => {
  const base = {
    PATH: '/bin',
    ME_CONFIG_MONGODB_SERVER: 'elsewhere',
    ME_CONFIG_BASICAUTH_USERNAME: 'u',
    VCAP_APP_HOST: '0.0.0.0',
  };
  const env = me.mongoExpressEnv(base, 'mongodb://127.0.0.1:27018/');
  assert.equal(env.PATH, '/bin');
  assert.equal(env.ME_CONFIG_MONGODB_SERVER, undefined, 'it would override the URL');
  assert.equal(env.ME_CONFIG_MONGODB_URL, 'mongodb://127.0.0.1:27018/');
  assert.equal(env.ME_CONFIG_BASICAUTH_USERNAME, '', 'an empty user name turns basic auth off');
  assert.equal(env.VCAP_APP_HOST, '127.0.0.1');
  assert.equal(env.ME_CONFIG_MONGODB_ENABLE_ADMIN, 'true');
  assert.match(String(env.ME_CONFIG_SITE_SESSIONSECRET), /^[0-9a-f]{48}$/);
  assert.notEqual(env.ME_CONFIG_SITE_SESSIONSECRET, me.mongoExpressEnv(base, 'x').ME_CONFIG_SITE_SESSIONSECRET);
});

test('mongo-express: pinned to a release that installs from the npm registry alone', () => {
  assert.equal(me.MONGO_EXPRESS_VERSION, '1.0.0');
  assert.match(pgadmin.PGADMIN_VERSION, /^\d+\.\d+$/);
});

test('probeHttp: the status and the text must match, and a redirect is not followed', async () => {
  const server = http.createServer((req, res) => {
    if (req.url === '/moved') res.writeHead(302, { location: '/ok' }).end();
    else res.writeHead(req.url === '/ok' ? 200 : 404).end('PING');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    assert.equal(await probes.probeHttp(`${base}/ok`, 'PING'), true);
    assert.equal(await probes.probeHttp(`${base}/ok`), true);
    assert.equal(await probes.probeHttp(`${base}/ok`, 'PONG'), false);
    assert.equal(await probes.probeHttp(`${base}/moved`), false);
    assert.equal(await probes.probeHttp(`${base}/missing`, 'PING'), false);
  } finally {
    server.close();
  }
});

test('runLogged: a failed install is one line (how, the last line, where the rest is); the log keeps all', async () => {
  const script =
    "console.log('Collecting pgadmin4'); console.error('ERROR: No matching distribution found'); process.exit(1)";
  await assert.rejects(
    proc.runLogged(process.execPath, ['-e', script], 'x-install', { what: 'pip install x' }),
    (e: Error) => {
      assert.equal(
        e.message,
        `pip install x failed (exit 1): ERROR: No matching distribution found (full output in ${proc.logFile('x-install')})`,
      );
      return true;
    },
  );
  const log = readFileSync(proc.logFile('x-install'), 'utf8');
  assert.match(log, /Collecting pgadmin4/);
  assert.match(log, /No matching distribution/);
  assert.equal(await proc.runLogged(process.execPath, ['-e', "console.log('ok')"], 'x-install'), 'ok\n');
});

test("failureLine: npm's cause rather than its code lines or where its debug log is; else the last line", () => {
  const npm = [
    'npm error code ECONNREFUSED',
    'npm error errno ECONNREFUSED',
    'npm error FetchError: request to http://127.0.0.1:9/mongo-express failed, reason: connect ECONNREFUSED',
    'npm error     at ClientRequest.<anonymous> (minipass-fetch/lib/index.js:130:14)',
    'npm error A complete log of this run can be found in: /root/.npm/_logs/x.log',
  ].join('\n');
  assert.equal(
    proc.failureLine(npm),
    'npm error FetchError: request to http://127.0.0.1:9/mongo-express failed, reason: connect ECONNREFUSED',
  );
  const pip = 'Collecting x\nERROR: Could not find a version\nERROR: No matching distribution found for x\n\n';
  assert.equal(proc.failureLine(pip), 'ERROR: No matching distribution found for x');
});

test('status: no UI line until `up --uis` asked for them; then one per UI, down while not started', async () => {
  assert.deepEqual(await uis.uiStatus(), []);
  writeFileSync(path.join(dir, 'uis'), 'asked\n');
  const states = await uis.uiStatus();
  assert.deepEqual(
    states.map((s) => [s.name, s.mode, s.pid]),
    [
      ['pgadmin', 'native', undefined],
      ['mongo-express', 'native', undefined],
    ],
  );
  const lines: string[] = [];
  await uis.downUis((m) => lines.push(m));
  assert.deepEqual(lines, [], 'nothing ran, nothing stopped');
  assert.deepEqual(await uis.uiStatus(), [], '`down` forgets that they were asked for');
});

test('up --uis in docker mode starts nothing: compose runs its own UIs', async () => {
  const lines: string[] = [];
  await uis.upUis('docker', (m) => lines.push(m));
  assert.match(
    lines.join('\n'),
    /compose serves pgAdmin on http:\/\/localhost:5050 and mongo-express on http:\/\/localhost:8081/,
  );
  assert.equal(uis.uisWanted(), false);
});
