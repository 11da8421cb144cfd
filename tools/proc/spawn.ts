/** Running a command to completion with its output captured: the one helper the stack, the tests and the bench share. */
import { spawn, type SpawnOptions } from 'node:child_process';
import { QuotesSinkError } from '../../lib/errors';

/** Options of {@link spawnCapture}: Node's spawn options (cwd, env, uid, gid, …) plus these. */
export interface SpawnCaptureOptions extends Omit<SpawnOptions, 'stdio' | 'detached' | 'timeout'> {
  /** The child is killed (SIGKILL) and the promise rejects after this long. Default 10 minutes. */
  timeoutMs?: number;
  /** Reject with a {@link CommandError} when the command exits non-zero (default: resolve with the code). */
  check?: boolean;
  /** How errors name the command. Default: the command and its arguments. */
  what?: string;
  /** Let the child write to this process's stdout and stderr (progress a user should see); nothing is captured. */
  passthrough?: boolean;
}

/** How a command ended, and what it wrote. */
export interface CaptureResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Why a command run by {@link spawnCapture} failed. */
export type CommandFailure = 'spawn' | 'exit' | 'timeout';

const DEFAULT_TIMEOUT_MS = 10 * 60_000;
const TAIL_LINES = 30;

/** A command could not start, exited non-zero (with `check`), or ran out of time; carries its output. */
export class CommandError extends QuotesSinkError {
  constructor(
    readonly command: string,
    readonly failure: CommandFailure,
    readonly result: CaptureResult,
    options: { cause?: unknown; timeoutMs?: number } = {},
  ) {
    super(commandErrorMessage(command, failure, result, options), { cause: options.cause });
  }
}

function commandErrorMessage(
  command: string,
  failure: CommandFailure,
  r: CaptureResult,
  o: { cause?: unknown; timeoutMs?: number },
): string {
  if (failure === 'spawn') return `${command}: ${o.cause instanceof Error ? o.cause.message : String(o.cause)}`;
  const tail = `${r.stdout}${r.stderr}`.trim().split('\n').slice(-TAIL_LINES).join('\n');
  const head =
    failure === 'timeout'
      ? `${command} did not finish within ${(o.timeoutMs ?? 0) / 1000}s`
      : `${command} failed (${r.signal ? `signal ${r.signal}` : `exit ${r.code}`})`;
  return tail ? `${head}:\n${tail}` : head;
}

/**
 * Runs `cmd args` to completion without blocking the event loop, capturing stdout and stderr.
 *
 * Resolves with the exit code and the output, whatever the code, unless `check` is set, in which
 * case a non-zero exit rejects with a {@link CommandError}. It always rejects with a CommandError
 * when the command cannot be started, or when it runs longer than `timeoutMs` (it is then killed).
 *
 * @example
 * const { stdout } = await spawnCapture('go', ['version'], { check: true, timeoutMs: 5_000 });
 */
export function spawnCapture(
  cmd: string,
  args: readonly string[],
  options: SpawnCaptureOptions = {},
): Promise<CaptureResult> {
  const {
    timeoutMs = DEFAULT_TIMEOUT_MS,
    check = false,
    what = [cmd, ...args].join(' '),
    passthrough,
    ...spawnOptions
  } = options;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      ...spawnOptions,
      stdio: ['ignore', passthrough ? 'inherit' : 'pipe', passthrough ? 'inherit' : 'pipe'],
    });
    const result: CaptureResult = { code: null, signal: null, stdout: '', stderr: '' };
    child.stdout?.on('data', (d: Buffer) => (result.stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (result.stderr += d.toString()));
    // 'error' and 'close' can both fire (a failed spawn); the first one decides.
    let settled = false;
    const settle = (error?: CommandError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) reject(error);
      else resolve(result);
    };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      settle(new CommandError(what, 'timeout', result, { timeoutMs }));
    }, timeoutMs);
    child.once('error', (e) => settle(new CommandError(what, 'spawn', result, { cause: e })));
    child.once('close', (code, signal) => {
      Object.assign(result, { code, signal });
      settle(check && code !== 0 ? new CommandError(what, 'exit', result) : undefined);
    });
  });
}
