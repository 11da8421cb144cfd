/** `npm test`'s first step (scripts/test-setup.ts): what it installs when a tool is missing, nothing when all are there. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CFN_LINT_VERSION } from '../../tools/deploy/cfn-lint';
import { aptInstall, resetAptUpdate } from '../../tools/stack/apt';
import {
  ensureChromium,
  findChromium,
  planTestTools,
  setUpTestTools,
  type TestToolsFound,
  type TestToolsInstallers,
} from '../../tools/stack/test-tools';

const ALL: TestToolsFound = {
  chromium: '/usr/bin/chromium',
  pythonVenv: true,
  cfnLint: `cfn-lint ${CFN_LINT_VERSION}`,
};
const NONE: TestToolsFound = { chromium: undefined, pythonVenv: false, cfnLint: undefined };
const quiet = () => undefined;

/** Installers that record what they were asked and make the machine have it afterwards. */
function fakeMachine(start: TestToolsFound) {
  const found = { ...start };
  const calls: string[] = [];
  const install: TestToolsInstallers = {
    async apt(packages) {
      calls.push(`apt ${packages.join(' ')}`);
      if (packages.includes('chromium')) found.chromium = '/usr/bin/chromium';
      if (packages.includes('python3-venv')) found.pythonVenv = true;
    },
    async cfnLint() {
      // Its venv needs python3 with venv: apt must have run first.
      assert.ok(found.pythonVenv, 'cfn-lint installed before python3-venv');
      calls.push('cfn-lint');
      found.cfnLint = `cfn-lint ${CFN_LINT_VERSION}`;
    },
  };
  return { look: () => ({ ...found }), install, calls };
}

describe('planTestTools', () => {
  test('nothing to install when everything is there', () => {
    assert.deepEqual(planTestTools(ALL), { apt: [], cfnLint: false });
  });

  test('each missing tool is installed, and only it', () => {
    assert.deepEqual(planTestTools({ ...ALL, chromium: undefined }), { apt: ['chromium'], cfnLint: false });
    assert.deepEqual(planTestTools({ ...ALL, pythonVenv: false }), { apt: ['python3-venv'], cfnLint: false });
    assert.deepEqual(planTestTools({ ...ALL, cfnLint: undefined }), { apt: [], cfnLint: true });
    assert.deepEqual(planTestTools(NONE), { apt: ['chromium', 'python3-venv'], cfnLint: true });
  });

  test('a cfn-lint of another version counts as missing (its findings would differ)', () => {
    assert.deepEqual(planTestTools({ ...ALL, cfnLint: 'cfn-lint 1.20.0' }), { apt: [], cfnLint: true });
  });
});

describe('setUpTestTools', () => {
  test('installs nothing on a machine that has it all', async () => {
    const m = fakeMachine(ALL);
    await setUpTestTools(quiet, m.look, m.install);
    assert.deepEqual(m.calls, []);
  });

  test('on a bare machine: one apt-get for the Debian packages, then cfn-lint', async () => {
    const m = fakeMachine(NONE);
    await setUpTestTools(quiet, m.look, m.install);
    assert.deepEqual(m.calls, ['apt chromium python3-venv', 'cfn-lint']);
  });

  test('an install that leaves the tool missing is a failure naming it, never a skip', async () => {
    const m = fakeMachine({ ...ALL, chromium: undefined });
    m.install.apt = async () => undefined; // "succeeds" without installing anything
    await assert.rejects(setUpTestTools(quiet, m.look, m.install), /still missing after installing: chromium/);
  });
});

describe('aptInstall', () => {
  test('updates the package lists once per process, then installs non-interactively', async () => {
    resetAptUpdate();
    const calls: { args: string[]; env?: NodeJS.ProcessEnv }[] = [];
    const runner = async (_cmd: string, args: string[], opts?: { env?: NodeJS.ProcessEnv }) => {
      calls.push({ args, env: opts?.env });
      return '';
    };
    await aptInstall(['chromium'], quiet, runner, true);
    await aptInstall(['postgresql'], quiet, runner, true);
    assert.deepEqual(
      calls.map((c) => c.args[0]),
      ['update', 'install', 'install'],
    );
    assert.deepEqual(
      calls.slice(1).map((c) => c.args.at(-1)),
      ['chromium', 'postgresql'],
    );
    assert.ok(calls[1].args.includes('-y'));
    assert.ok(calls.every((c) => c.env?.DEBIAN_FRONTEND === 'noninteractive'));
    resetAptUpdate();
  });

  test('not root: says the command to run, runs nothing', async () => {
    let ran = false;
    const runner = async () => {
      ran = true;
      return '';
    };
    await assert.rejects(aptInstall(['chromium'], quiet, runner, false), /sudo apt-get install -y chromium/);
    assert.equal(ran, false);
  });
});

test('findChromium: CHROMIUM_PATH first, then Debian paths, else nothing', () => {
  const has = (files: string[]) => (p: string) => files.includes(p);
  assert.equal(findChromium({ CHROMIUM_PATH: '/opt/c' }, has(['/opt/c', '/usr/bin/chromium'])), '/opt/c');
  assert.equal(findChromium({}, has(['/usr/bin/chromium-browser'])), '/usr/bin/chromium-browser');
  assert.equal(findChromium({}, has([])), undefined);
});

test('ensureChromium: the path found, else apt-get installs chromium once, else it fails saying so', async () => {
  const asked: string[][] = [];
  const record = async (packages: string[]) => void asked.push(packages);
  assert.equal(await ensureChromium(quiet, () => '/usr/bin/chromium', record), '/usr/bin/chromium');
  assert.deepEqual(asked, []);
  let installed: string | undefined;
  const install = async (packages: string[]) => {
    await record(packages);
    installed = '/usr/bin/chromium';
  };
  assert.equal(await ensureChromium(quiet, () => installed, install), '/usr/bin/chromium');
  assert.deepEqual(asked, [['chromium']]);
  await assert.rejects(
    ensureChromium(quiet, () => undefined, record),
    /still missing/,
  );
});
