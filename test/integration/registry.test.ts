/**
 * `stack up --registry` (issue 23): Apicurio started natively in a stack folder of its own, next to
 * the services this run uses as they are (external mode), so nothing else is started or stopped.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { parseEnvFile } from '../../lib/config';
import { isAlive } from '../../tools/stack/proc';
import { stackConfig } from '../helpers/env';
import { stackCli } from '../helpers/run';

const cfg = stackConfig();
const dir = mkdtempSync(path.join(os.tmpdir(), 'quotes-sink-registry-'));
// The services as they are: external mode, so `down` stops only what this folder's `up` started.
const env = {
  QUOTES_SINK_STACK_DIR: dir,
  KAFKA_BROKERS: cfg.KAFKA_BROKERS,
  POSTGRES_URL: cfg.POSTGRES_URL,
  MONGO_URL: cfg.MONGO_URL,
  SCHEMA_REGISTRY_URL: '',
};
const H = { 'Content-Type': 'application/vnd.schemaregistry.v1+json' };
const SCHEMA = JSON.stringify({
  type: 'record',
  name: 'Probe',
  namespace: 'quotes_sink.test',
  fields: [{ name: 'quote', type: 'string' }],
});

after(async () => {
  await stackCli(['down'], env).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

test('stack up --registry starts Apicurio; an Avro schema registered is read back by id; down stops it by pid', async () => {
  const upRun = await stackCli(['up', '--registry'], env, 300_000);
  assert.equal(upRun.code, 0, upRun.stderr);
  assert.match(upRun.stderr, /external stack up/);
  const url = parseEnvFile(readFileSync(path.join(dir, 'env'), 'utf8')).SCHEMA_REGISTRY_URL;
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/apis\/ccompat\/v7$/);
  const pid = Number(readFileSync(path.join(dir, 'apicurio.pid'), 'utf8'));
  assert.ok(isAlive(pid));

  const statusRun = await stackCli(['status', '--json'], env);
  assert.equal(statusRun.code, 0, statusRun.stdout);
  const registry = (JSON.parse(statusRun.stdout) as { name: string; up: boolean; pid?: number }[]).find(
    (s) => s.name === 'apicurio',
  );
  assert.deepEqual({ up: registry?.up, pid: registry?.pid }, { up: true, pid });

  const subject = `probe-${Date.now().toString(36)}-value`;
  const res = await fetch(`${url}/subjects/${subject}/versions`, {
    method: 'POST',
    headers: H,
    body: JSON.stringify({ schema: SCHEMA }),
  });
  assert.equal(res.status, 200, await res.clone().text());
  const { id } = (await res.json()) as { id: number };
  assert.ok(Number.isInteger(id) && id > 0, String(id));
  const byId = (await (await fetch(`${url}/schemas/ids/${id}`)).json()) as { schema: string };
  assert.deepEqual(JSON.parse(byId.schema), JSON.parse(SCHEMA));
  const latest = (await (await fetch(`${url}/subjects/${subject}/versions/latest`)).json()) as { id: number };
  assert.equal(latest.id, id);

  const downRun = await stackCli(['down'], env, 60_000);
  assert.equal(downRun.code, 0, downRun.stderr);
  assert.match(downRun.stderr, /apicurio: stopped/);
  assert.equal(isAlive(pid), false);
  // The services it used as they are still answer.
  const again = await stackCli(['status'], { ...env, QUOTES_SINK_STACK_DIR: path.join(dir, 'after') });
  assert.equal(again.code, 0, again.stdout);
});
