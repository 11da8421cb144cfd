/** Process and port helpers for the native stack: detached start, pid files, stop by pid. */
import { spawn, spawnSync, type SpawnOptions } from 'node:child_process';
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
  closeSync,
} from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { PROJECT_ROOT, STACK_DIR } from '../../lib/config';
import { CommandError, spawnCapture, type SpawnCaptureOptions } from '../proc/spawn';

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
  if (child.pid === undefined) throw new Error(`could not start ${cmd}`);
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
export async function stopService(
  service: string,
  pid: number | undefined,
  graceMs: number,
  signal: NodeJS.Signals = 'SIGTERM',
): Promise<boolean> {
  if (pid) await stopPid(pid, graceMs, signal);
  forgetPid(service);
  return !!pid;
}

/** The port a service was started on (kept in `file`), or `fallback` when there is none. */
export function readPort(file: string, fallback: number): number {
  const port = existsSync(file) ? Number(readFileSync(file, 'utf8').trim()) : NaN;
  return Number.isInteger(port) && port > 0 ? port : fallback;
}

/** A path as messages show it: relative to the project when inside it (`.stack/logs/kafka.log`), else absolute. */
export function shownPath(file: string): string {
  const rel = path.relative(PROJECT_ROOT, file);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
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

/**
 * Polls `check` until it returns true; throws when `timeoutMs` passes (with the last error seen) or
 * as soon as `isDead` explains why it never will (the process exited).
 */
export async function waitUntil(
  check: () => Promise<boolean>,
  timeoutMs: number,
  isDead?: () => string | undefined,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      if (await check()) return;
    } catch (e) {
      last = e;
    }
    const dead = isDead?.();
    if (dead) throw new Error(dead, { cause: last });
    if (Date.now() > deadline) {
      const why = last instanceof Error ? ` (last error: ${last.message})` : '';
      throw new Error(`not serving after ${timeoutMs / 1000}s${why}`, { cause: last });
    }
    await sleep(250);
  }
}

/** Options of {@link run}: those of spawnCapture without `check` (a failure always throws). */
export type RunOptions = Omit<SpawnCaptureOptions, 'check'>;

/**
 * Runs a command to completion and returns its stdout; throws a CommandError with the tail of its
 * output when it fails. Asynchronous, so the downloads and builds of several services overlap.
 */
export async function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<string> {
  // Installs, downloads and builds can be slow, but not endless.
  const result = await spawnCapture(cmd, args, { what: cmd, timeoutMs: 30 * 60_000, ...opts, check: true });
  return result.stdout;
}

/** The last non-empty line of a command's output: what pip ends a failure with. */
export function lastLine(text: string): string {
  return (
    text
      .trim()
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
      .at(-1) ?? ''
  );
}

/** npm's line that says why (not its `code`/`errno` lines, nor where its debug log is). */
const NPM_CAUSE = /^npm (?:error|ERR!) (?!code |errno |syscall |A complete log)\S/;

/** The line of an installer's output that says why it failed: npm's cause, else the last line. */
export function failureLine(text: string): string {
  return (
    text
      .split('\n')
      .find((l) => NPM_CAUSE.test(l.trim()))
      ?.trim() ?? lastLine(text)
  );
}

/**
 * {@link run}, with the whole output kept in `logs/<logName>.log`; a failure is one line (how it
 * ended, the {@link failureLine}, where the rest is) rather than pages of an installer's output.
 */
export async function runLogged(cmd: string, args: string[], logName: string, opts: RunOptions = {}): Promise<string> {
  mkdirSync(LOG_DIR, { recursive: true });
  const file = logFile(logName);
  try {
    const out = await spawnCapture(cmd, args, { what: cmd, timeoutMs: 30 * 60_000, ...opts, check: true });
    writeFileSync(file, `${out.stdout}${out.stderr}`);
    return out.stdout;
  } catch (e) {
    if (!(e instanceof CommandError) || e.failure === 'spawn') throw e;
    const output = `${e.result.stdout}${e.result.stderr}`;
    writeFileSync(file, output);
    const how = e.message.split('\n')[0].replace(/:$/, '');
    const last = failureLine(output);
    throw new Error(`${how}${last ? `: ${last}` : ''} (full output in ${shownPath(file)})`, { cause: e });
  }
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
