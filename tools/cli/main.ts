/**
 * `runMain(name, main)`: how every entry point ends. Help goes to stdout (exit 0); a usage mistake
 * is one line on stderr (exit 2); any other failure is one line on stderr (exit 1). Stack traces
 * are shown only for what looks like a bug (a TypeError and its kind, not ours) or with
 * QUOTES_SINK_DEBUG=1: the user of a command line needs what went wrong, not where.
 */
import { redactUrl } from '../../lib/config';
import { QuotesSinkError } from '../../lib/errors';
import { SinkFileError } from '../routes/errors';
import { HelpRequested, InputError, UsageError, causeText } from './errors';

/** A command's body: gets the arguments after the script, returns its exit code (default 0). */
export type Main = (argv: string[]) => Promise<number | void>;

/** Exit codes: success, a runtime failure, a usage mistake. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/** What to print for an outcome, and the exit code. */
export interface Outcome {
  code: number;
  stdout?: string;
  stderr?: string;
}

/** Errors that mean a bug in this code rather than a problem with input or services. */
const BUG_ERRORS = new Set(['TypeError', 'ReferenceError', 'SyntaxError', 'RangeError']);

/** Whether `e` looks like a bug in this code (shown with its stack) rather than a failure to report. */
export const isBug = (e: unknown): boolean =>
  e instanceof Error && !(e instanceof QuotesSinkError) && BUG_ERRORS.has(e.name);

/**
 * How a failure of command `name` is reported (pure, for tests). `debug` adds the stack trace
 * whatever the error.
 */
export function describeFailure(name: string, e: unknown, debug = false): Outcome {
  if (e instanceof HelpRequested) return { code: EXIT.ok, stdout: e.text };
  if (e instanceof UsageError) return { code: EXIT.usage, stderr: `${name}: ${e.message}; see --help\n` };
  // A file's bad contents, every problem on its own line, each with the command's name.
  if (e instanceof InputError) return { code: EXIT.usage, stderr: e.problems.map((p) => `${name}: ${p}\n`).join('') };
  // A sink file is input too: its problems, one line each, and the usage exit code.
  if (e instanceof SinkFileError) return { code: EXIT.usage, stderr: `${name}: ${e.message}\n` };
  // ConfigError and the stack's errors may hold several lines, one per problem; that is their point.
  const line = `${name}: ${causeText(e)}\n`;
  const stack = (debug || isBug(e)) && e instanceof Error && e.stack ? `${redactUrl(e.stack)}\n` : '';
  return { code: EXIT.failure, stderr: `${line}${stack}` };
}

/**
 * Runs `main` with the command-line arguments and exits with its code, or reports its failure
 * as {@link describeFailure} says. Exits explicitly: clients (kafkajs, pg, mongodb) may keep the
 * event loop alive after a failure.
 */
export function runMain(name: string, main: Main, argv: string[] = process.argv.slice(2)): void {
  const finish = (o: Outcome) => {
    if (o.stdout) process.stdout.write(o.stdout);
    if (o.stderr) process.stderr.write(o.stderr);
    process.exit(o.code);
  };
  main(argv).then(
    (code) => finish({ code: code ?? EXIT.ok }),
    (e: unknown) => finish(describeFailure(name, e, process.env.QUOTES_SINK_DEBUG === '1')),
  );
}
