/** `npm run local` flags: defaults, values, and one line naming the flag for each mistake. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseLocalOptions } from '../../cli/local';
import { HelpRequested, UsageError } from '../../tools/cli/errors';

test('no flags: the documented defaults (settings a template may give stay unset)', () => {
  const o = parseLocalOptions([]);
  assert.equal(o['batch-size'], undefined);
  assert.equal(o.invoke, 'inprocess');
  assert.equal(o['backoff-cap-ms'], 30_000);
  assert.equal(o['until-idle'], false);
  assert.equal(o['idle-ms'], 1_500);
  assert.equal(o['log-file'], undefined);
  assert.equal(o.json, false);
});

test('flags are read and converted', () => {
  const o = parseLocalOptions(['--batch-size', '250', '--source', 'msk', '--until-idle', '--max-attempts', '2']);
  assert.equal(o['batch-size'], 250);
  assert.equal(o.source, 'msk');
  assert.equal(o['until-idle'], true);
  assert.equal(o['max-attempts'], 2);
  assert.equal(parseLocalOptions(['--starting-position', 'AT_TIMESTAMP'])['starting-position'], 'AT_TIMESTAMP');
});

for (const [args, message] of [
  [['--batch-size', '0'], /--batch-size takes a whole number from 1 to 10,000/],
  [['--batch-size', 'abc'], /--batch-size takes a whole number/],
  [['--source', 'x'], /--source takes one of self-managed, msk/],
  [['--bogus'], /unknown option --bogus/],
  [['extra'], /unexpected argument "extra"/],
  [['--batch-size'], /--batch-size needs a value/],
  [['--batch-window-ms', '1.5'], /--batch-window-ms/],
  [['--idle-ms', '-1'], /--idle-ms/],
  [['--destination', 'quotes-failed'], /--destination takes kafka:\/\/TOPIC/],
] as const) {
  test(`${args.join(' ')}: one line naming the flag`, () => {
    assert.throws(
      () => parseLocalOptions([...args]),
      (e: Error) => e instanceof UsageError && !e.message.includes('\n') && message.test(e.message),
    );
  });
}

test('--help is a help request with the usage', () => {
  assert.throws(
    () => parseLocalOptions(['--help']),
    (e: Error) => e instanceof HelpRequested && /--from-template/.test(e.text),
  );
});
