/** Runs project commands (serverless, CLIs) as child processes, with output captured. */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { PROJECT_ROOT } from '../../lib/config';
import { spawnCapture } from '../../tools/proc/spawn';

export const SERVERLESS = path.join(PROJECT_ROOT, 'node_modules', '.bin', 'serverless');
export const TSX = path.join(PROJECT_ROOT, 'node_modules', '.bin', 'tsx');

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs to completion (bounded by `timeoutMs`), never throws for a non-zero exit. */
export async function runCommand(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 120_000,
): Promise<RunResult> {
  const { code, stdout, stderr } = await spawnCapture(cmd, args, {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...env },
    timeoutMs,
  });
  return { code, stdout, stderr };
}

/** `npm run stack -- <args>` to completion; `env` on top of this process's (a test's QUOTES_SINK_STACK_DIR). */
export const stackCli = (args: string[], env: Record<string, string> = {}, timeoutMs = 60_000): Promise<RunResult> =>
  runCommand(TSX, ['cli/stack.ts', ...args], env, timeoutMs);

/** Starts a long-running command; resolves once `ready` matches its output. */
export function startCommand(
  cmd: string,
  args: string[],
  env: Record<string, string>,
  ready: RegExp,
  timeoutMs = 60_000,
): Promise<{ child: ChildProcess; output: () => string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: PROJECT_ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let out = '';
    const timer = setTimeout(() => {
      stopCommand(child);
      reject(new Error(`${cmd} not ready within ${timeoutMs / 1000}s:\n${out}`));
    }, timeoutMs);
    const onData = (d: Buffer) => {
      out += d.toString();
      if (ready.test(out)) {
        clearTimeout(timer);
        resolve({ child, output: () => out });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${cmd} exited (${code}) before it was ready:\n${out}`));
    });
  });
}

/** Starts a command in its own process group and returns at once (output discarded). */
export function spawnCommand(cmd: string, args: string[], env: Record<string, string>): ChildProcess {
  return spawn(cmd, args, { cwd: PROJECT_ROOT, env: { ...process.env, ...env }, stdio: 'ignore', detached: true });
}

/** Stops a command started by startCommand (its whole process group). */
export function stopCommand(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    try {
      process.kill(-(child.pid as number), signal);
    } catch {
      resolve();
    }
  });
}

/** The exit code of a started command, or a rejection after `timeoutMs` (the command is killed). */
export function exitOf(child: ChildProcess, timeoutMs: number): Promise<number | null> {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    const timer = setTimeout(() => {
      void stopCommand(child, 'SIGKILL');
      reject(new Error(`still running after ${timeoutMs / 1000}s`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}
