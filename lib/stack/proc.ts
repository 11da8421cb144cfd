/** Process and port helpers for the native stack: detached start, pid files, stop by pid. */
import { spawn, spawnSync, type SpawnOptions } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, closeSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { STACK_DIR } from '../config';

/** Folder of the stack's data, logs, pids and generated settings (see QUOTES_SINK_STACK_DIR). */
export { STACK_DIR };
export const LOG_DIR = path.join(STACK_DIR, 'logs');

export const pidFile = (service: string) => path.join(STACK_DIR, `${service}.pid`);
export const logFile = (service: string) => path.join(LOG_DIR, `${service}.log`);

/** Whether a process with this pid exists (and is not a zombie). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return true;
  }
}

/** The command line of a pid, or '' when it is gone (Linux /proc). */
export function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}

/**
 * The pid recorded for `service`, if that process is still running and still looks like it
 * (`marker` must appear in its command line, so a recycled pid is never mistaken for ours).
 */
export function runningPid(service: string, marker: string): number | undefined {
  const file = pidFile(service);
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return undefined;
  return cmdline(pid).includes(marker) ? pid : undefined;
}

/** Starts a long-running process in its own process group, output appended to the service log. */
export function startDetached(service: string, cmd: string, args: string[], opts: SpawnOptions = {}): number {
  mkdirSync(LOG_DIR, { recursive: true });
  const fd = openSync(logFile(service), 'a');
  const child = spawn(cmd, args, { ...opts, detached: true, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  // A spawn failure (missing or non-executable binary) arrives as an event: log it, so the wait
  // for the service reports it instead of the process crashing.
  child.once('error', (e) => appendFileSync(logFile(service), `could not start ${cmd}: ${e.message}\n`));
  if (child.pid === undefined) throw new Error(`${service}: could not start ${cmd}`);
  child.unref();
  writeFileSync(pidFile(service), `${child.pid}\n`);
  return child.pid;
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
export async function stopPid(pid: number, graceMs = 20_000, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  try {
    process.kill(pid, signal);
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    await sleep(100);
  }
}

export function forgetPid(service: string): void {
  rmSync(pidFile(service), { force: true });
}

/** Stops the service's recorded process (if it is still ours) and forgets it; true if one ran. */
export async function stopService(service: string, pid: number | undefined, graceMs: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<boolean> {
  if (pid) await stopPid(pid, graceMs, signal);
  forgetPid(service);
  return !!pid;
}

/** The port a service was started on (kept in `file`), or its default. */
export const readPort = (file: string, fallback: number) => (existsSync(file) ? Number(readFileSync(file, 'utf8')) : fallback);

/** A service's status line parts: its address, whether it runs and answers `probe`. */
export async function serviceState(port: number, pid: number | undefined, probe: () => Promise<boolean>): Promise<{ address: string; up: boolean; pid?: number }> {
  const up = !!pid && (await probe().catch(() => false));
  return { address: `127.0.0.1:${port}`, up, pid };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Whether something accepts TCP connections on host:port. */
export function portOpen(port: number, host = '127.0.0.1', timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/** `preferred` if nothing listens there, else the next free port above it. */
export async function freePort(preferred: number, avoid: number[] = []): Promise<number> {
  for (let p = preferred; p < preferred + 200; p++) {
    if (!avoid.includes(p) && !(await portOpen(p))) return p;
  }
  throw new Error(`no free port in ${preferred}..${preferred + 199}`);
}

/** Polls `check` until it returns true or `timeoutMs` passes; the last error explains a failure. */
export async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number, isDead?: () => string | undefined): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      if (await check()) return;
    } catch (e) {
      last = (e as Error).message;
    }
    const dead = isDead?.();
    if (dead) throw new Error(`${what}: ${dead}`);
    if (Date.now() > deadline) throw new Error(`${what}: not serving after ${timeoutMs / 1000}s${last ? ` (last error: ${last})` : ''}`);
    await sleep(250);
  }
}

/**
 * Runs a command to completion without blocking the event loop (so downloads and builds of
 * several services overlap), throwing with the tail of its output when it fails.
 */
export function run(cmd: string, args: string[], opts: SpawnOptions & { what?: string } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    let out = '';
    let err = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    child.once('error', (e) => reject(new Error(`${opts.what ?? cmd}: ${e.message}`)));
    child.once('close', (code) => {
      if (code === 0) return resolve(out);
      const tail = `${out}${err}`.trim().split('\n').slice(-30).join('\n');
      reject(new Error(`${opts.what ?? cmd} failed (exit ${code}):\n${tail}`));
    });
  });
}

/** Whether `cmd` is on PATH. */
export function hasCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** Last lines of a service log, to explain a failed start. */
export function logTail(service: string, lines = 15): string {
  try {
    return readFileSync(logFile(service), 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
