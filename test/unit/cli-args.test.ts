/** The shared command-line parser (tools/cli/args.ts) and how runMain reports outcomes (tools/cli/main.ts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { z } from 'zod';
import {
  HelpRequested,
  UsageError,
  defineCommand,
  defineGroup,
  enumFlag,
  exclusive,
  intFlag,
  numberFlag,
  parseCommand,
  parseSubcommand,
  requires,
} from '../../tools/cli/args';
import { UnreachableError, causeText } from '../../tools/cli/errors';
import { describeFailure } from '../../tools/cli/main';
import { ConfigError } from '../../lib/config';

const SPEC = defineCommand({
  command: 'npm run thing --',
  summary: 'Does a thing.',
  positionals: [{ key: 'name', name: 'NAME', help: 'what', optional: true }],
  flags: {
    limit: { type: 'string', value: 'N', help: 'how many (default 50)' },
    ratio: { type: 'string', value: 'R', help: 'a share' },
    mode: { type: 'string', value: 'M', help: 'fast or slow' },
    all: { type: 'boolean', help: 'all of them' },
    file: { type: 'string', value: 'F', help: 'a file' },
    synthetic: { type: 'string', value: 'N', help: 'generated' },
    seed: { type: 'string', value: 'S', help: 'seed of --synthetic' },
  },
  schema: z
    .object({
      name: z.string().optional(),
      limit: intFlag(1, 10_000).default('50'),
      ratio: numberFlag(0, 1).optional(),
      mode: enumFlag(['fast', 'slow']).optional(),
      all: z.boolean().default(false),
      file: z.string().optional(),
      synthetic: intFlag(0).optional(),
      seed: intFlag(0).optional(),
    })
    .strict()
    .superRefine(exclusive('file', 'synthetic'))
    .superRefine(requires('seed', 'synthetic')),
});

const usage = (args: string[]) => {
  try {
    parseCommand(SPEC, args);
  } catch (e) {
    assert.ok(e instanceof UsageError, `not a UsageError: ${String(e)}`);
    return e.message;
  }
  assert.fail(`${args.join(' ')} parsed`);
};

test('values are typed and defaults applied', () => {
  assert.deepEqual(parseCommand(SPEC, []), { limit: 50, all: false });
  assert.deepEqual(parseCommand(SPEC, ['x', '--limit', '7', '--ratio', '0.5', '--mode', 'slow', '--all']), {
    name: 'x',
    limit: 7,
    ratio: 0.5,
    mode: 'slow',
    all: true,
  });
  assert.deepEqual(parseCommand(SPEC, ['--limit=9']), { limit: 9, all: false });
});

const mistakes: [string[], RegExp][] = [
  [['--bogus'], /^unknown option --bogus$/],
  [['--limit'], /^--limit needs a value$/],
  [['--limit', '--all'], /^--limit needs a value/],
  [['--limit', '-3'], /^--limit needs a value \(write --limit=VALUE/],
  [['--limit', 'abc'], /^--limit takes a whole number from 1 to 10,000 \(got "abc"\)$/],
  [['--limit', '0'], /^--limit takes a whole number from 1 to 10,000 \(got "0"\)$/],
  [['--limit', '1.5'], /^--limit takes a whole number/],
  [['--ratio', '2'], /^--ratio takes a number from 0 to 1 \(got "2"\)$/],
  [['--mode', 'medium'], /^--mode takes one of fast, slow \(got "medium"\)$/],
  [['--all=yes'], /^--all takes no value$/],
  [['a', 'b'], /^unexpected argument "b"$/],
  [['--file', 'f', '--synthetic', '3'], /^--file cannot be combined with --synthetic$/],
  [['--seed', '3'], /^--seed only applies with --synthetic$/],
];
for (const [args, expected] of mistakes) {
  test(`usage error: ${args.join(' ')}`, () => assert.match(usage(args), expected));
}

test('--help and -h give the help text: usage, arguments, every flag', () => {
  for (const flag of ['--help', '-h']) {
    let err: unknown;
    try {
      parseCommand(SPEC, ['--limit', 'abc', flag]);
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof HelpRequested);
    assert.match(err.text, /^usage: npm run thing -- \[NAME\] \[options\]\n/);
    for (const f of ['--limit N', '--ratio R', '--all', '--synthetic N', '--help, -h', 'NAME']) {
      assert.ok(err.text.includes(f), `${f} missing from the help`);
    }
  }
});

test('subcommands: the name and its typed values; mistakes name the command', () => {
  const group = defineGroup({ command: 'npm run g --', summary: 'G.', subcommands: { one: SPEC, two: SPEC } });
  const parsed = parseSubcommand(group, ['two', '--limit', '3']);
  assert.equal(parsed.name, 'two');
  assert.equal(parsed.options.limit, 3);
  assert.throws(() => parseSubcommand(group, []), /^UsageError: missing command: one \| two$/);
  assert.throws(() => parseSubcommand(group, ['three']), /unknown command "three": one \| two/);
  assert.throws(() => parseSubcommand(group, ['--limit', '3']), /missing command before --limit/);
  assert.throws(() => parseSubcommand(group, ['one', '--limit', 'x']), /--limit takes a whole number/);
  assert.throws(
    () => parseSubcommand(group, ['--help']),
    (e: unknown) => e instanceof HelpRequested && /one\s+Does a thing/.test(e.text),
  );
});

test('runMain outcomes: help exits 0 on stdout, usage 2 in one line, failures 1 without a stack', () => {
  assert.deepEqual(describeFailure('x', new HelpRequested('usage: x\n')), { code: 0, stdout: 'usage: x\n' });
  assert.deepEqual(describeFailure('x', new UsageError('unknown option --y')), {
    code: 2,
    stderr: 'x: unknown option --y; see --help\n',
  });
  const down = describeFailure(
    'x',
    new UnreachableError('postgres', 'postgres://u:secret@h:1/d', new Error('connect ECONNREFUSED h:1')),
  );
  assert.equal(down.code, 1);
  assert.equal(
    down.stderr,
    'x: cannot connect to postgres at postgres://u:***@h:1/d (POSTGRES_URL): connect ECONNREFUSED h:1\n',
  );
  const config = describeFailure('x', new ConfigError(['LOG_LEVEL: must be one of a, b']));
  assert.doesNotMatch(config.stderr ?? '', /\n\s+at /);
  // A bug keeps its stack trace; so does anything with QUOTES_SINK_DEBUG=1.
  assert.match(describeFailure('x', new TypeError('x is not a function')).stderr ?? '', /\n\s+at /);
  assert.match(describeFailure('x', new Error('boom'), true).stderr ?? '', /\n\s+at /);
  assert.doesNotMatch(describeFailure('x', new Error('boom')).stderr ?? '', /\n\s+at /);
});

test('causeText: causes on one line, empty AggregateErrors explained, passwords redacted', () => {
  const refused = Object.assign(new Error('connect ECONNREFUSED ::1:1'), { code: 'ECONNREFUSED' });
  const agg = new AggregateError([refused, new Error('connect ECONNREFUSED 127.0.0.1:1')], '');
  assert.equal(causeText(agg), 'connect ECONNREFUSED ::1:1; connect ECONNREFUSED 127.0.0.1:1');
  assert.equal(
    causeText(new Error('fetch failed', { cause: new Error('getaddrinfo ENOTFOUND x') })),
    'fetch failed: getaddrinfo ENOTFOUND x',
  );
  assert.equal(causeText(new Error('at postgres://u:pw@h/d')), 'at postgres://u:***@h/d');
});

const REPEATED = defineCommand({
  command: 'npm run many --',
  summary: 'Takes a flag more than once.',
  flags: {
    tag: { type: 'string', value: 'T', multiple: true, help: 'a tag' },
    size: { type: 'string', value: 'N', multiple: true, help: 'a size' },
  },
  schema: z
    .object({
      tag: z.array(z.string()).default([]),
      size: z.array(intFlag(1, 9)).optional(),
    })
    .strict(),
});

test('a repeatable flag: every value, in order, as an array; the help says it repeats', () => {
  assert.deepEqual(parseCommand(REPEATED, []), { tag: [] });
  assert.deepEqual(parseCommand(REPEATED, ['--tag', 'a', '--tag=b', '--size', '3', '--tag', 'a']), {
    tag: ['a', 'b', 'a'],
    size: [3],
  });
  let help = '';
  try {
    parseCommand(REPEATED, ['--help']);
  } catch (e) {
    help = (e as HelpRequested).text;
  }
  assert.match(help, /--tag T\s+a tag \(repeatable\)/);
});

test('a repeatable flag: the wrong value is named, in one line', () => {
  assert.throws(
    () => parseCommand(REPEATED, ['--size', '3', '--size', 'x']),
    (e: unknown) => e instanceof UsageError && e.message === '--size takes a whole number from 1 to 9 (got "x")',
  );
  assert.throws(() => parseCommand(REPEATED, ['--tag']), /^UsageError: --tag needs a value$/);
});

test('a flag that is not repeatable keeps its last value (node parseArgs)', () => {
  assert.deepEqual(parseCommand(SPEC, ['--limit', '3', '--limit', '4']), { limit: 4, all: false });
});
