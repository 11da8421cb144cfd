/**
 * What `npm test` needs beyond node_modules and the stack, installed when the machine lacks it (as
 * `stack up` installs PostgreSQL): Debian's chromium for the UI's browser tests, python3 with
 * venv for pgAdmin (`up --uis`) and cfn-lint, and cfn-lint itself, pinned, from PyPI into a venv.
 * A test never skips for want of one of them: this installs it, or fails saying how to.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { CFN_LINT_VENV, CFN_LINT_VERSION, findCfnLint } from '../deploy/cfn-lint';
import { aptInstall } from './apt';
import { runLogged, shownPath } from './proc';

/** Where the browser tests look for chromium: $CHROMIUM_PATH, then Debian's paths. */
export function findChromium(
  env: NodeJS.ProcessEnv = process.env,
  exists: (file: string) => boolean = existsSync,
): string | undefined {
  return [env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => p && exists(p));
}

/**
 * Debian's chromium for a headless browser (the UI's browser tests, the docs' screenshots): its
 * path, installed with apt-get first when {@link findChromium} finds none. Throws, saying how to
 * install it, when it cannot be installed (not root) or is still missing afterwards.
 */
export async function ensureChromium(
  log: (m: string) => void,
  find: () => string | undefined = () => findChromium(),
  install: (packages: string[], log: (m: string) => void) => Promise<void> = aptInstall,
): Promise<string> {
  const found = find();
  if (found) return found;
  await install(['chromium'], log);
  const installed = find();
  if (!installed)
    throw new Error('chromium is still missing after `apt-get install -y chromium` (or set CHROMIUM_PATH)');
  return installed;
}

/** Whether `python3` can make a venv with pip in it (Debian splits ensurepip off into python3-venv). */
export function hasPythonVenv(): boolean {
  return spawnSync('python3', ['-c', 'import ensurepip, venv'], { stdio: 'ignore', timeout: 30_000 }).status === 0;
}

/** The version line of the cfn-lint the tests would run, or undefined when there is none. */
export function cfnLintVersion(): string | undefined {
  try {
    return findCfnLint().version;
  } catch {
    return undefined;
  }
}

/** What is on the machine, as {@link planTestTools} needs it. */
export interface TestToolsFound {
  chromium: string | undefined;
  pythonVenv: boolean;
  /** `cfn-lint --version`'s line (`cfn-lint 1.51.0`), or undefined. */
  cfnLint: string | undefined;
}

/** What to install: Debian packages, and whether cfn-lint goes into its venv. */
export interface TestToolsPlan {
  apt: string[];
  cfnLint: boolean;
}

/** Installs only what is missing; a cfn-lint of another version counts as missing (its findings differ). */
export function planTestTools(found: TestToolsFound): TestToolsPlan {
  const apt: string[] = [];
  if (!found.chromium) apt.push('chromium');
  if (!found.pythonVenv) apt.push('python3-venv');
  return { apt, cfnLint: found.cfnLint !== `cfn-lint ${CFN_LINT_VERSION}` };
}

/** The installers {@link setUpTestTools} calls (fakes in tests). */
export interface TestToolsInstallers {
  apt(packages: string[], log: (m: string) => void): Promise<void>;
  cfnLint(log: (m: string) => void): Promise<void>;
}

/** cfn-lint, pinned, from PyPI into {@link CFN_LINT_VENV} (Debian's python3 refuses plain pip installs). */
export async function installCfnLint(log: (m: string) => void): Promise<void> {
  const python = path.join(CFN_LINT_VENV, 'bin', 'python3');
  log(`installing cfn-lint ${CFN_LINT_VERSION} from PyPI into ${shownPath(CFN_LINT_VENV)}`);
  if (!existsSync(path.join(CFN_LINT_VENV, 'bin', 'pip'))) {
    rmSync(CFN_LINT_VENV, { recursive: true, force: true }); // a venv without pip is of no use
    mkdirSync(path.dirname(CFN_LINT_VENV), { recursive: true });
    await runLogged('python3', ['-m', 'venv', CFN_LINT_VENV], 'cfn-lint-install', { what: 'python3 -m venv' });
  }
  const pip = ['-m', 'pip', 'install', '-q', '--disable-pip-version-check', '--timeout', '30'];
  await runLogged(python, [...pip, `cfn-lint==${CFN_LINT_VERSION}`], 'cfn-lint-install', {
    what: `pip install cfn-lint==${CFN_LINT_VERSION}`,
    timeoutMs: 15 * 60_000,
  });
}

const INSTALLERS: TestToolsInstallers = { apt: (p, log) => aptInstall(p, log), cfnLint: installCfnLint };

/**
 * Looks at the machine and installs what the tests need and it lacks (apt first: cfn-lint's venv
 * may need python3-venv). Returns the plan it carried out.
 */
export async function setUpTestTools(
  log: (m: string) => void,
  look: () => TestToolsFound = () => ({
    chromium: findChromium(),
    pythonVenv: hasPythonVenv(),
    cfnLint: cfnLintVersion(),
  }),
  install: TestToolsInstallers = INSTALLERS,
): Promise<TestToolsPlan> {
  const plan = planTestTools(look());
  if (plan.apt.length) await install.apt(plan.apt, log);
  if (plan.cfnLint) await install.cfnLint(log);
  const after = look();
  const still = planTestTools(after);
  if (still.apt.length || still.cfnLint) {
    const found = `found ${after.cfnLint ?? 'none'}${process.env.CFN_LINT ? ' at CFN_LINT' : ''}`;
    const what = [...still.apt, ...(still.cfnLint ? [`cfn-lint ${CFN_LINT_VERSION} (${found})`] : [])].join(', ');
    throw new Error(`still missing after installing: ${what}`);
  }
  return plan;
}
