/**
 * `stack up --registry` (issue 23): Apicurio started natively in a stack folder of its own, next to
 * the services this run uses as they are (external mode), so nothing else is started or stopped.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { isAlive } from '../../tools/stack/proc';
import { startRegistry, type TestRegistry } from '../helpers/registry';
import { stackCli } from '../helpers/run';

let registry: TestRegistry | undefined;
const H = { 'Content-Type': 'application/vnd.schemaregistry.v1+json' };
const SCHEMA = JSON.stringify({
  type: 'record',
  name: 'Probe',
  namespace: 'quotes_sink.test',
  fields: [{ name: 'quote', type: 'string' }],
});

after(async () => {
  await registry?.stop();
});

test('stack up --registry starts Apicurio; an Avro schema registered is read back by id; down stops it by pid', async () => {
  registry = await startRegistry();
  const { url, dir, env } = registry;
  assert.match(registry.upLog, /external stack up/);
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/apis\/ccompat\/v7$/);
  const pid = Number(readFileSync(path.join(dir, 'apicurio.pid'), 'utf8'));
  assert.ok(isAlive(pid));

  const statusRun = await stackCli(['status', '--json'], env);
  assert.equal(statusRun.code, 0, statusRun.stdout);
  const state = (JSON.parse(statusRun.stdout) as { name: string; up: boolean; pid?: number }[]).find(
    (s) => s.name === 'apicurio',
  );
  assert.deepEqual({ up: state?.up, pid: state?.pid }, { up: true, pid });

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
