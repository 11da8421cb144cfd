/**
 * Runs cfn-lint (PyPI `cfn-lint`, AWS's CloudFormation linter) on packaged templates: an
 * independent check of what the framework and our plugin generate. Found as $CFN_LINT, in the
 * venv `npm test` installs it into, as `cfn-lint` on PATH, or as `python3 -m cfnlint`; missing is
 * an error, never a silent skip.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { STACK_DIR } from '../../lib/config';
import { QuotesSinkError } from '../../lib/errors';

/** The version `npm test` installs, so that its findings only change when we choose. */
export const CFN_LINT_VERSION = '1.51.0';
/** Where `npm test` installs it when the machine has no cfn-lint of that version (a venv: PEP 668). */
export const CFN_LINT_VENV = path.join(STACK_DIR, 'cfn-lint', 'venv');
const VENV_CFN_LINT = path.join(CFN_LINT_VENV, 'bin', 'cfn-lint');

/** cfn-lint is not installed where we look; the message says how to install it. */
export class CfnLintMissingError extends QuotesSinkError {
  constructor(tried: string[]) {
    super(
      `cfn-lint not found (tried ${tried.join(', ')}): \`npm test\` installs it, or install it with ` +
        `\`pip install cfn-lint==${CFN_LINT_VERSION}\`, or point CFN_LINT at the executable`,
    );
  }
}

/** The command that runs cfn-lint: executable and leading arguments. */
export interface CfnLintCommand {
  cmd: string;
  args: string[];
  version: string;
}

const probe = (cmd: string, args: string[], env: NodeJS.ProcessEnv) =>
  spawnSync(cmd, [...args, '--version'], { encoding: 'utf8', timeout: 60_000, env });

/**
 * Finds cfn-lint ($CFN_LINT, the venv of {@link CFN_LINT_VENV}, then on `env`'s PATH); throws {@link CfnLintMissingError} if no candidate
 * answers `--version`.
 */
export function findCfnLint(env: NodeJS.ProcessEnv = process.env, venv: string = VENV_CFN_LINT): CfnLintCommand {
  const candidates: [string, string[]][] = [
    ...(env.CFN_LINT ? [[env.CFN_LINT, []] as [string, string[]]] : []),
    ...(existsSync(venv) ? [[venv, []] as [string, string[]]] : []),
    ['cfn-lint', []],
    ['python3', ['-m', 'cfnlint']],
  ];
  for (const [cmd, args] of candidates) {
    const r = probe(cmd, args, env);
    if (r.status === 0) return { cmd, args, version: r.stdout.trim() };
  }
  throw new CfnLintMissingError(candidates.map(([cmd, args]) => [cmd, ...args].join(' ')));
}

/** What cfn-lint found: one `file:line:col:…:RULE:message` line per finding (errors, warnings, informational). */
export interface CfnLintResult {
  findings: string[];
  /** cfn-lint's exit code: 0 clean; bit 2 errors, 4 warnings, 8 informational; 1 a failure of its own. */
  status: number | null;
  stderr: string;
}

/** Lints `files` in one cfn-lint run (every rule class reported, parseable output). */
export function runCfnLint(files: string[], command: CfnLintCommand = findCfnLint()): CfnLintResult {
  const r = spawnSync(command.cmd, [...command.args, '--format', 'parseable', '--', ...files], {
    encoding: 'utf8',
    timeout: 300_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  const findings = r.stdout.split('\n').filter((line) => line.trim() !== '');
  return { findings, status: r.status, stderr: r.stderr };
}
