/**
 * The commands that parsed their own flags (doctor, ui, the bench scripts) on the shared parser
 * (lib/cli/args.ts): values and defaults in process, and as run, `--help` exits 0 and a bad flag
 * is one line on stderr with exit 2 and no stack trace. Only argument handling: nothing here
 * packages serverless variants or touches a store.
 */
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { describe, test } from 'node:test';
import { parseCommand } from '../../lib/cli/args';
import { HelpRequested, UsageError } from '../../lib/cli/errors';
import { parseDoctorOptions } from '../../cli/doctor';
import { UI } from '../../cli/ui';
import { runCommand, TSX, type RunResult } from '../helpers/run';

const usageMessage = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof UsageError, `not a UsageError: ${String(e)}`);
    assert.doesNotMatch(e.message, /\n/);
    return e.message;
  }
  assert.fail('parsed');
};

test('doctor: the defaults (stage ci, no params or templates, the CPU count)', () => {
  assert.deepEqual(parseDoctorOptions([]), {
    stage: 'ci',
    params: {},
    templates: [],
    lint: false,
    keep: undefined,
    concurrency: availableParallelism(),
  });
});

test('doctor: --param and --template repeat; a value may hold "="', () => {
  const o = parseDoctorOptions([
    '--param',
    'trigger=msk',
    '--param=clusterId=a=b',
    '--param',
    'empty=',
    '--template',
    'a.json',
    '--template',
    'b.json',
    '--stage',
    'prod',
    '--lint',
    '--keep',
    'out',
    '--concurrency',
    '3',
  ]);
  assert.deepEqual(o, {
    stage: 'prod',
    params: { trigger: 'msk', clusterId: 'a=b', empty: '' },
    templates: ['a.json', 'b.json'],
    lint: true,
    keep: 'out',
    concurrency: 3,
  });
});

for (const [args, expected] of [
  [['--param', 'trigger'], /^--param takes KEY=VALUE \(got "trigger"\)$/],
  [['--param', 'a=1', '--param', '=1'], /^--param takes KEY=VALUE \(got "=1"\)$/],
  [['--concurrency', '0'], /^--concurrency takes a whole number of at least 1/],
  [['--concurrency', 'abc'], /^--concurrency takes a whole number/],
  [['--template'], /^--template needs a value$/],
  [['--lint=yes'], /^--lint takes no value$/],
  [['extra'], /^unexpected argument "extra"$/],
] as const) {
  test(`doctor ${args.join(' ')}: one line naming the flag`, () =>
    assert.match(
      usageMessage(() => parseDoctorOptions([...args])),
      expected,
    ));
}

test('doctor --help: every flag, the repeatable ones said so', () => {
  assert.throws(
    () => parseDoctorOptions(['--help']),
    (e: unknown) =>
      e instanceof HelpRequested &&
      /^usage: npm run doctor -- \[options\]\n/.test(e.text) &&
      /--param KEY=VALUE .*\(repeatable\)/.test(e.text) &&
      /--template FILE .*\(repeatable\)/.test(e.text) &&
      ['--stage NAME', '--lint', '--keep DIR', '--concurrency N', 'exit 1'].every((f) => e.text.includes(f)),
  );
});

test('ui: --port from 0 to 65535, default 8088', () => {
  assert.deepEqual(parseCommand(UI, []), { port: 8088 });
  assert.deepEqual(parseCommand(UI, ['--port', '0']), { port: 0 });
  assert.deepEqual(parseCommand(UI, ['--port=65535']), { port: 65_535 });
  assert.match(
    usageMessage(() => parseCommand(UI, ['--port', '65536'])),
    /^--port takes a whole number from 0 to 65,535/,
  );
  assert.match(
    usageMessage(() => parseCommand(UI, ['--port', 'abc'])),
    /^--port takes a whole number/,
  );
});

/** Each command as run, with a bad value that must be a usage error (exit 2). */
const RUN: [string, string[], RegExp][] = [
  ['cli/doctor.ts', ['--param', 'nope'], /^doctor: --param takes KEY=VALUE/],
  ['cli/ui.ts', ['--port', 'abc'], /^ui: --port takes a whole number/],
];

const NO_STACK_TRACE = /\n\s+at /;

function assertUsageError(r: RunResult, what: RegExp): void {
  assert.equal(r.code, 2, `${r.stdout}${r.stderr}`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], what);
  assert.match(lines[0], /; see --help$/);
  assert.doesNotMatch(r.stderr, NO_STACK_TRACE);
}

describe('as run: --help exits 0, a bad flag or value is one line and exit 2', { concurrency: 4 }, () => {
  for (const [script, bad, expected] of RUN) {
    test(script, async () => {
      const run = (args: string[]) => runCommand(TSX, [script, ...args], { LOG_LEVEL: 'warn' }, 30_000);
      const [help, unknown, value] = await Promise.all([run(['--help']), run(['--no-such-flag']), run(bad)]);
      assert.equal(help.code, 0, help.stderr);
      assert.match(help.stdout, /^usage: /);
      assert.match(help.stdout, /--help, -h/);
      assert.equal(help.stderr, '');
      assertUsageError(unknown, /unknown option --no-such-flag/);
      assertUsageError(value, expected);
    });
  }
});
