/**
 * The producer's JSON Lines source (tools/producer/lines.ts) and key pointers (pointer.ts): which
 * lines are records, their exact text, their keys, and every bad line reported at once; then how a
 * command line shows them (tools/cli/main.ts: exit 2, one line each) and `record --topic`'s flags.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { RECORD_COMMAND } from '../../cli/record';
import { parseCommand } from '../../tools/cli/args';
import { InputError, UsageError } from '../../tools/cli/errors';
import { describeFailure } from '../../tools/cli/main';
import { isJsonLinesFile, readJsonLines } from '../../tools/producer/lines';
import { JSON_POINTER, keyAt, pointerTokens, valueAt } from '../../tools/producer/pointer';
import { quoteMessages } from '../../tools/producer/publish';

const dir = mkdtempSync(path.join(os.tmpdir(), 'producer-lines-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A file in the test's folder holding `text`. */
function file(name: string, text: string | Buffer): string {
  const f = path.join(dir, name);
  writeFileSync(f, text);
  return f;
}

/** The problems `f` throws as an InputError. */
function problemsOf(f: () => unknown): readonly string[] {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof InputError, `not an InputError: ${String(e)}`);
    return e.problems;
  }
  assert.fail('no error');
}

describe('JSON Pointer', () => {
  const doc = { a: { 'b/c': [10, { '~d': 'x' }] }, '': 'empty', n: 0, t: false, z: null };
  for (const [pointer, want] of [
    ['', doc],
    ['/a/b~1c/0', 10],
    ['/a/b~1c/1/~0d', 'x'],
    ['/', 'empty'],
    ['/a/b~1c/01', undefined],
    ['/a/b~1c/2', undefined],
    ['/missing/x', undefined],
    ['/n/x', undefined],
  ] as const) {
    test(`${JSON.stringify(pointer)} evaluates as RFC 6901 says`, () => {
      assert.ok(JSON_POINTER.test(pointer));
      assert.deepEqual(valueAt(doc, pointerTokens(pointer)), want);
    });
  }
  test('only "" and /-separated tokens with ~0 ~1 escapes are pointers', () => {
    for (const bad of ['id', 'a/b', '/a~2', '/~']) assert.ok(!JSON_POINTER.test(bad), bad);
  });
  test('keys: a string as is, a number or boolean as JSON text, nothing for the rest', () => {
    assert.equal(keyAt({ id: 'a' }, ['id']), 'a');
    assert.equal(keyAt({ id: 12.5 }, ['id']), '12.5');
    assert.equal(keyAt({ id: false }, ['id']), 'false');
    for (const v of [null, {}, [], undefined]) assert.equal(keyAt({ id: v }, ['id']), undefined);
  });
});

describe('readJsonLines', () => {
  test('.jsonl and .ndjson are JSON Lines; .json is an array', () => {
    assert.ok(isJsonLinesFile('x/orders.jsonl') && isJsonLinesFile('A.NDJSON'));
    assert.ok(!isJsonLinesFile('data/sample-quotes.json'));
  });

  test('one record per non-blank line, its text exactly (line ends and a BOM dropped), no key', () => {
    const f = file('ok.jsonl', '\uFEFF{"a": 1}\r\n\n  \t\n  [ 1 ,2 ]  \n"s"');
    const at = new Date('2026-01-02T03:04:05.000Z');
    const got = readJsonLines(f, { source: 'src' }, f, at);
    assert.deepEqual(
      got.map((m) => [m.key, m.value]),
      [
        [null, '{"a": 1}'],
        [null, '  [ 1 ,2 ]  '],
        [null, '"s"'],
      ],
    );
    assert.deepEqual(got[0].headers, { source: 'src', 'fetched-at': '2026-01-02T03:04:05.000Z' });
  });

  test('--key: each line keyed at the pointer', () => {
    const f = file('keyed.jsonl', '{"id":"x"}\n{"id":7}\n');
    assert.deepEqual(
      readJsonLines(f, { key: '/id', source: 's' }).map((m) => m.key),
      ['x', '7'],
    );
  });

  test('every bad line at once, named FILE:LINE: not JSON, no key', () => {
    const f = file('bad.jsonl', '{"id":1}\n{oops}\n\n{"id":null}\n[\n{"id":"ok"}\n');
    const problems = problemsOf(() => readJsonLines(f, { key: '/id', source: 's' }, 'shown.jsonl'));
    assert.deepEqual(
      problems.map((p) => p.replace(/ \(.*\)$/, '')),
      [
        'shown.jsonl:2: not JSON',
        'shown.jsonl:4: no key: no string, number or boolean at "/id"',
        'shown.jsonl:5: not JSON',
      ],
    );
  });

  test('a file that is not UTF-8, or missing, is named', () => {
    assert.throws(() => readJsonLines(file('latin1.jsonl', Buffer.from([0x22, 0xe9, 0x22])), { source: 's' }), {
      message: /latin1\.jsonl: not UTF-8/,
    });
    assert.throws(() => readJsonLines(path.join(dir, 'none.jsonl'), { source: 's' }), {
      message: /none\.jsonl: no such file/,
    });
  });

  test('a command line shows each problem as its own line, exit 2', () => {
    const o = describeFailure('produce', new InputError(['f.jsonl:2: not JSON (x)', 'f.jsonl:9: not JSON (y)']));
    assert.equal(o.code, 2);
    assert.equal(o.stderr, 'produce: f.jsonl:2: not JSON (x)\nproduce: f.jsonl:9: not JSON (y)\n');
  });
});

test('quote messages: the character by default, or --key POINTER; none where there is nothing', () => {
  const quotes = [{ character: 'Homer', n: 1 }, { n: 2 }];
  assert.deepEqual(
    quoteMessages(quotes, { key: true, source: 's' }).map((m) => m.key),
    ['Homer', null],
  );
  assert.deepEqual(
    quoteMessages(quotes, { key: true, keyPointer: '/n', source: 's' }).map((m) => m.key),
    ['1', '2'],
  );
  assert.deepEqual(
    quoteMessages(quotes, { key: false, keyPointer: '/n', source: 's' }).map((m) => m.key),
    [null, null],
  );
});

describe('record: any topic', () => {
  test('--topic and --group', () => {
    const o = parseCommand(RECORD_COMMAND, ['--out', 'e.json', '--topic', 'orders.v1', '--group', 'g1']);
    assert.equal(o.topic, 'orders.v1');
    assert.equal(o.group, 'g1');
    assert.equal(parseCommand(RECORD_COMMAND, ['--out', 'e.json']).topic, undefined);
  });
  test('a bad topic, or --group with --from-beginning, is a usage error naming the flag', () => {
    for (const [args, want] of [
      [['--topic', 'no spaces'], /--topic takes a topic name/],
      [['--group', 'g', '--from-beginning'], /--group cannot be combined with --from-beginning/],
    ] as const) {
      assert.throws(
        () => parseCommand(RECORD_COMMAND, ['--out', 'e.json', ...args]),
        (e: unknown) => {
          assert.ok(e instanceof UsageError);
          assert.match(e.message, want);
          return true;
        },
      );
    }
  });
});
