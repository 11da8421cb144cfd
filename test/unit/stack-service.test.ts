/**
 * The native services' shared lifecycle (tools/stack/service.ts) and the spawn helper, with tiny
 * Node servers for services: no Kafka, Postgres or FerretDB needed. The stack folder is a temp dir.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';

const dir = mkdtempSync(path.join(os.tmpdir(), 'quotes-sink-stack-unit-'));
// Before lib/config is loaded: every pid, port and log file goes to the temp dir.
process.env.QUOTES_SINK_STACK_DIR = dir;

type Service = typeof import('../../tools/stack/service');
type Proc = typeof import('../../tools/stack/proc');
type Spawn = typeof import('../../tools/proc/spawn');
type Errors = typeof import('../../tools/stack/errors');
let service: Service;
let proc: Proc;
let spawn: Spawn;
let errors: Errors;
const started: number[] = [];

before(async () => {
  service = await import('../../tools/stack/service');
  proc = await import('../../tools/stack/proc');
  spawn = await import('../../tools/proc/spawn');
  errors = await import('../../tools/stack/errors');
});

after(async () => {
  for (const pid of started) await proc.stopPid(pid, 2_000);
  rmSync(dir, { recursive: true, force: true });
});

const SERVER = "require('net').createServer((s) => s.end()).listen(Number(process.argv[1]), '127.0.0.1'); // fake-svc";

/** A spec whose process is a TCP server; `script` replaces it (a process that dies). */
function fakeSpec(name: 'kafka' | 'postgres', defaultPort: number, script = SERVER) {
  let launches = 0;
  const spec: import('../../tools/stack/service').NativeServiceSpec = {
    name,
    marker: 'fake-svc',
    defaultPort,
    portFile: path.join(dir, name, 'port'),
    startTimeoutMs: 10_000,
    stop: { graceMs: 2_000 },
    prepare: async () => undefined,
    command: (port) => {
      launches++;
      return { cmd: process.execPath, args: ['-e', script, String(port)] };
    },
    url: (port) => `fake://127.0.0.1:${port}`,
    probe: (port) => proc.portOpen(port),
  };
  return { spec, launches: () => launches };
}

async function listenOn(port: number): Promise<net.Server> {
  const server = net.createServer((s) => s.end());
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return server;
}

test('start: a free port, a detached process, pid and port files, then the probe', async () => {
  const port = await proc.freePort(41_000);
  const { spec, launches } = fakeSpec('kafka', port);
  const lines: string[] = [];
  const url = await service.startNativeService(spec, (m) => lines.push(m));
  const pid = Number(readFileSync(proc.pidFile('kafka'), 'utf8'));
  started.push(pid);
  assert.equal(url, `fake://127.0.0.1:${port}`);
  assert.equal(readFileSync(spec.portFile, 'utf8'), String(port));
  assert.ok(proc.isAlive(pid));
  assert.equal(launches(), 1);
  assert.deepEqual(lines, [`starting on 127.0.0.1:${port}`]);

  // A second start adopts the running process.
  assert.equal(await service.startNativeService(spec, () => undefined), url);
  assert.equal(launches(), 1, 'nothing new started');

  const st = await service.nativeStatus(spec);
  assert.deepEqual(st, { name: 'kafka', mode: 'native', address: `127.0.0.1:${port}`, up: true, pid });

  assert.equal(await service.stopNativeService(spec), true);
  assert.ok(!proc.isAlive(pid));
  assert.ok(!existsSync(proc.pidFile('kafka')));
  assert.equal((await service.nativeStatus(spec)).up, false);
});

test('status: an address served by a process this stack did not start is up, with no pid', async () => {
  const port = await proc.freePort(41_100);
  const server = await listenOn(port);
  try {
    const { spec } = fakeSpec('postgres', port);
    const st = await service.nativeStatus(spec);
    assert.deepEqual(st, { name: 'postgres', mode: 'native', address: `127.0.0.1:${port}`, up: true, pid: undefined });
  } finally {
    server.close();
  }
});

test('start: the default port taken by someone else: says so, and starts on the next free port', async () => {
  const port = await proc.freePort(41_200);
  const server = await listenOn(port);
  try {
    const { spec } = fakeSpec('postgres', port);
    const lines: string[] = [];
    const url = await service.startNativeService(spec, (m) => lines.push(m));
    started.push(Number(readFileSync(proc.pidFile('postgres'), 'utf8')));
    assert.notEqual(url, `fake://127.0.0.1:${port}`);
    assert.match(lines[0], new RegExp(`^127\\.0\\.0\\.1:${port} is in use by a process this stack did not start`));
    await service.stopNativeService(spec);
  } finally {
    server.close();
  }
});

test('start: a process that dies is reported as a StackError naming the service, with its log tail', async () => {
  const script = "console.log('fake-svc: cannot bind, giving up'); process.exit(3)";
  const { spec } = fakeSpec('kafka', await proc.freePort(41_300), script);
  const svc = service.defineNativeService(spec);
  await assert.rejects(
    svc.up(() => undefined),
    (e: unknown) => {
      assert.ok(e instanceof errors.StackError);
      assert.equal(e.service, 'kafka');
      assert.match(
        e.message,
        /^kafka: the process exited; last lines of .*logs\/kafka\.log:\n.*cannot bind, giving up/,
      );
      assert.ok(e.cause instanceof Error);
      return true;
    },
  );
});

test('spawnCapture: resolves with the code and both outputs', async () => {
  const r = await spawn.spawnCapture(process.execPath, [
    '-e',
    "process.stdout.write('out'); process.stderr.write('err'); process.exit(4)",
  ]);
  assert.deepEqual(r, { code: 4, signal: null, stdout: 'out', stderr: 'err' });
});

test('spawnCapture: with check, a non-zero exit rejects with a CommandError carrying the output', async () => {
  await assert.rejects(
    spawn.spawnCapture(process.execPath, ['-e', "console.error('it broke'); process.exit(2)"], {
      check: true,
      what: 'the thing',
    }),
    (e: unknown) => {
      assert.ok(e instanceof spawn.CommandError);
      assert.equal(e.failure, 'exit');
      assert.equal(e.result.code, 2);
      assert.equal(e.message, 'the thing failed (exit 2):\nit broke');
      return true;
    },
  );
});

test('spawnCapture: a command that cannot start rejects with the cause', async () => {
  await assert.rejects(spawn.spawnCapture(path.join(dir, 'no-such-command'), []), (e: unknown) => {
    assert.ok(e instanceof spawn.CommandError);
    assert.equal(e.failure, 'spawn');
    assert.match(e.message, /ENOENT/);
    assert.ok(e.cause instanceof Error);
    return true;
  });
});

test('spawnCapture: a command that runs too long is killed and rejects', async () => {
  const t0 = Date.now();
  await assert.rejects(
    spawn.spawnCapture(process.execPath, ['-e', "console.log('waiting'); setTimeout(() => {}, 60_000)"], {
      timeoutMs: 500,
    }),
    (e: unknown) => {
      assert.ok(e instanceof spawn.CommandError);
      assert.equal(e.failure, 'timeout');
      assert.match(e.message, /did not finish within 0\.5s:\nwaiting/);
      return true;
    },
  );
  assert.ok(Date.now() - t0 < 5_000);
});

test('prepare: a failed command becomes a StackError naming the service once, with the CommandError as its cause', async () => {
  const { spec } = fakeSpec('kafka', 41_400);
  spec.prepare = async () => {
    await spawn.spawnCapture(process.execPath, ['-e', 'process.exit(1)'], { check: true, what: 'go build' });
  };
  await assert.rejects(
    service.defineNativeService(spec).prepare(() => undefined),
    (e: unknown) => {
      assert.ok(e instanceof errors.StackError);
      assert.equal(e.message, 'kafka: go build failed (exit 1)');
      assert.ok(e.cause instanceof spawn.CommandError);
      return true;
    },
  );
});
