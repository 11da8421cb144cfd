/**
 * The commands that parsed their own flags (doctor, ui, the bench scripts) on the shared parser
 * (tools/cli/args.ts): values and defaults in process, and as run, `--help` exits 0 and a bad flag
 * is one line on stderr with exit 2 and no stack trace. Only argument handling: nothing here
 * packages serverless variants or touches a store.
 */
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { describe, test } from 'node:test';
import { parseCommand, type CommandSpec } from '../../tools/cli/args';
import { HelpRequested, UsageError } from '../../tools/cli/errors';
import { parseDoctorOptions } from '../../cli/doctor';
import { UI } from '../../cli/ui';
import { MEMORY } from '../../bench/memory';
import { MONGO_VARIANTS } from '../../bench/mongo-variants';
import { PG_VARIANTS } from '../../bench/pg-variants';
import { PROFILE } from '../../bench/profile';
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
    stores: false,
    keep: undefined,
    concurrency: availableParallelism(),
  });
});

test('doctor: --param and --template repeat; a value may hold "="; --lint and --stores', () => {
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
    '--stores',
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
    stores: true,
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

test('bench scripts: their defaults', () => {
  assert.deepEqual(parseCommand(MEMORY, []), { batch: 10_000, rounds: 1 });
  assert.deepEqual(parseCommand(MONGO_VARIANTS, []), { records: 20_000, rounds: 2 });
  assert.deepEqual(parseCommand(PG_VARIANTS, []), { records: 100_000, chunk: 1_000, rounds: 1 });
  assert.deepEqual(parseCommand(PROFILE, []), {
    records: 20_000,
    batch: 1_000,
    stores: 'postgres,mongo',
    top: 25,
    plain: false,
    json: false,
  });
});

test("bench scripts: the arguments bench/run.ts gives its probes, and each script's own", () => {
  assert.deepEqual(parseCommand(MEMORY, ['--batch', '5000', '--rounds', '3', '--chunk', '500']), {
    batch: 5_000,
    rounds: 3,
    chunk: 500,
  });
  const cpu = parseCommand(PROFILE, ['--plain', '--json', '--records', '4000', '--batch', '100']);
  assert.deepEqual(
    { ...cpu, stores: undefined, top: undefined },
    {
      records: 4_000,
      batch: 100,
      plain: true,
      json: true,
      stores: undefined,
      top: undefined,
    },
  );
  assert.deepEqual(parseCommand(PG_VARIANTS, ['--only', 'copy,json', '--chunk', '500']).only, ['copy', 'json']);
  assert.match(
    usageMessage(() => parseCommand(PG_VARIANTS, ['--only', 'copy,nope'])),
    /^--only takes variant names from copy, /,
  );
  const wholeFlags: [CommandSpec<unknown>, string][] = [
    [MEMORY, '--batch'],
    [MEMORY, '--rounds'],
    [MONGO_VARIANTS, '--records'],
    [PG_VARIANTS, '--chunk'],
    [PROFILE, '--top'],
  ];
  for (const [spec, flag] of wholeFlags) {
    for (const bad of ['abc', '0', '1.5', '']) {
      assert.match(
        usageMessage(() => parseCommand(spec, [flag, bad])),
        new RegExp(`^${flag} takes a whole number of at least 1`),
      );
    }
  }
});

/** Each command as run, with a bad value that must be a usage error (exit 2). */
const RUN: [string, string[], RegExp][] = [
  ['cli/doctor.ts', ['--param', 'nope'], /^doctor: --param takes KEY=VALUE/],
  ['cli/ui.ts', ['--port', 'abc'], /^ui: --port takes a whole number/],
  ['bench/memory.ts', ['--batch', 'abc'], /^bench memory: --batch takes a whole number/],
  ['bench/mongo-variants.ts', ['--records', 'abc'], /^mongo variants: --records takes a whole number/],
  ['bench/pg-variants.ts', ['--records', 'abc'], /^pg-variants: --records takes a whole number/],
  ['bench/profile.ts', ['--records', 'abc'], /^bench profile: --records takes a whole number/],
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

describe('as run: --help exits 0, a bad value is one line and exit 2', { concurrency: 4 }, () => {
  for (const [script, bad, expected] of RUN) {
    test(script, async () => {
      const run = (args: string[]) => runCommand(TSX, [script, ...args], { LOG_LEVEL: 'warn' }, 30_000);
      const [help, value] = await Promise.all([run(['--help']), run(bad)]);
      assert.equal(help.code, 0, help.stderr);
      assert.match(help.stdout, /^usage: /);
      assert.match(help.stdout, /--help, -h/);
      assert.equal(help.stderr, '');
      assertUsageError(value, expected);
    });
  }
});
