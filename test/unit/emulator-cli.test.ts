/** `npm run local` flags: defaults, values, and every problem named at once. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseLocalOptions } from '../../cli/local';

test('no flags: the documented defaults', () => {
  const o = parseLocalOptions([]);
  assert.equal(o['batch-size'], 100);
  assert.equal(o['batch-window-ms'], 500);
  assert.equal(o.source, 'self-managed');
  assert.equal(o['starting-position'], 'TRIM_HORIZON');
  assert.equal(o.invoke, 'inprocess');
  assert.equal(o['max-attempts'], 0);
  assert.equal(o['backoff-cap-ms'], 30_000);
  assert.equal(o['until-idle'], false);
  assert.equal(o['idle-ms'], 1_500);
  assert.equal(o['log-file'], undefined);
});

test('flags are read and converted', () => {
  const o = parseLocalOptions(['--batch-size', '250', '--source', 'msk', '--until-idle', '--max-attempts', '2']);
  assert.equal(o['batch-size'], 250);
  assert.equal(o.source, 'msk');
  assert.equal(o['until-idle'], true);
  assert.equal(o['max-attempts'], 2);
});

test('every problem is named on one line', () => {
  assert.throws(
    () => parseLocalOptions(['--batch-size', '0', '--source', 'x', '--bogus', '--until-idle=yes', 'extra']),
    (e: Error) => {
      assert.equal(e.message.includes('\n'), false);
      for (const part of [
        /--batch-size: a whole number from 1 to 10000/,
        /--source: self-managed or msk/,
        /--until-idle: takes no value/,
        /unknown flag --bogus/,
        /unexpected argument extra/,
      ]) {
        assert.match(e.message, part);
      }
      return true;
    },
  );
});

test('a flag without its value is named', () => {
  assert.throws(() => parseLocalOptions(['--batch-size']), /--batch-size: needs a value/);
});

test('a fractional or signed number is refused', () => {
  assert.throws(() => parseLocalOptions(['--batch-window-ms', '1.5']), /--batch-window-ms/);
  assert.throws(() => parseLocalOptions(['--idle-ms', '-1']), /--idle-ms/);
});
