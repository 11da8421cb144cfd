/** No password or connection string with a password in anything a run logs, on success or failure. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { emulate, lane, produce, type Lane } from '../helpers/lane';
import { runCommand, SERVERLESS, TSX } from '../helpers/run';

const SECRET = 'Zebra-Quokka-4417-Secret';
const ROLE = 'quotes_sink_secret_probe';
const tmp = mkdtempSync(path.join(tmpdir(), 'secrets-'));
let l: Lane;
let url: string;

before(async () => {
  l = await lane('secrets');
  await l.sb.query(`drop role if exists ${ROLE}`);
  await l.sb.query(`create role ${ROLE} login superuser password '${SECRET}'`);
  const u = new URL(l.sb.config.POSTGRES_URL);
  u.username = ROLE;
  u.password = SECRET;
  url = u.toString();
});
after(async () => {
  await l.close();
  const admin = await lane('secrets_cleanup');
  await admin.sb.query(`drop role if exists ${ROLE}`);
  await admin.close();
  rmSync(tmp, { recursive: true, force: true });
});

test('a successful run with a distinctive password logs it nowhere', async () => {
  await produce(l, ['--synthetic', '300', '--invalid-ratio', '0.1']);
  const logFile = path.join(tmp, 'ok.log');
  const out = await emulate(l, ['--log-file', logFile], { POSTGRES_URL: url, LOG_LEVEL: 'debug' });
  assert.deepEqual(await l.sb.counts(), { rows: 270, docs: 270, deadLetters: 30 });
  const all = out + readFileSync(logFile, 'utf8');
  assert.ok(all.length > 0);
  assert.ok(!all.includes(SECRET), 'the password appears in the logs');
});

test('failing runs (unreachable database, bad event) name what failed but not the password', async () => {
  const logFile = path.join(tmp, 'fail.log');
  await produce(l, ['--synthetic', '10']);
  const bad = `postgres://${ROLE}:${SECRET}@127.0.0.1:1/simpsons`;
  // Past the start-up check (which names the store, password redacted: checked below), into the writes.
  const r = await runCommand(
    TSX,
    ['cli/local.ts', '--until-idle', '--no-store-check', '--max-attempts', '2', '--log-file', logFile],
    {
      ...l.env,
      POSTGRES_URL: bad,
      POSTGRES_CONNECT_TIMEOUT_MS: '300',
      LOG_LEVEL: 'debug',
    },
  );
  assert.equal(r.code, 1);
  const all = r.stdout + r.stderr + readFileSync(logFile, 'utf8');
  assert.match(all, /postgres write failed/);
  assert.ok(!all.includes(SECRET), 'the password appears in the failure output');
  const early = await runCommand(TSX, ['cli/local.ts', '--until-idle'], { ...l.env, POSTGRES_URL: bad });
  assert.equal(early.code, 1);
  assert.match(early.stderr, /cannot connect to postgres/);
  assert.ok(!(early.stdout + early.stderr).includes(SECRET), 'the password appears in the start-up check');

  const sandboxEnv = Object.entries(l.sb.env).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
  const inv = await runCommand(SERVERLESS, [
    'invoke',
    'local',
    '-f',
    'sink',
    '-p',
    'test/fixtures/msk-event.json',
    '-e',
    `POSTGRES_URL=${bad}`,
    '-e',
    'POSTGRES_CONNECT_TIMEOUT_MS=300',
    ...sandboxEnv,
  ]);
  assert.notEqual(inv.code, 0);
  const invAll = inv.stdout + inv.stderr;
  assert.match(invAll, /StoreWriteError|postgres write failed/);
  assert.ok(!invAll.includes(SECRET), 'the password appears in invoke local output');

  const cfg = await runCommand(TSX, ['cli/migrate.ts'], { POSTGRES_URL: `mysql://${ROLE}:${SECRET}@h/db` });
  assert.equal(cfg.code, 1);
  assert.match(cfg.stderr, /POSTGRES_URL/);
  assert.ok(!(cfg.stdout + cfg.stderr).includes(SECRET), 'the password appears in a config error');
});
