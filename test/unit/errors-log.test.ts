/** The root error, typed store errors, and what the log keeps of an error. */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { BatchWriteError, StoreWriteError } from '../../lib/sink/errors';
import { InvalidEventError } from '../../lib/event/errors';
import { QuotesSinkError } from '../../lib/errors';
import { redactUrl } from '../../lib/config';
import { createLogger, scrub, serializeError } from '../../lib/log';
import { preview, printable } from '../../tools/replay/dead-letters';

const context = {
  store: 'postgres' as const,
  partitions: { 'quotes-0': { first: 3, last: 9, count: 7 } },
  chunk: { from: 0, to: 7 },
};
const pgError = () =>
  Object.assign(new Error('connection refused to postgres://u:hunter2@db:5432/x'), { code: 'ECONNREFUSED' });

test('every error of ours has one root and keeps its native cause', () => {
  const cause = new Error('socket hang up');
  const e = new StoreWriteError(context, cause);
  assert.ok(e instanceof QuotesSinkError);
  assert.ok(new InvalidEventError('x') instanceof QuotesSinkError);
  assert.equal(e.cause, cause);
  assert.equal(e.name, 'StoreWriteError');
});

test('a store error derives its message from its fields and is retriable', () => {
  const e = new StoreWriteError(context, new Error('boom'));
  assert.equal(e.message, 'postgres write failed for records 0..6 of the event (quotes-0@3..9): boom');
  assert.equal(e.retriable, true);
  assert.equal(new InvalidEventError('x').retriable, false);
});

test('the serializer keeps the cause chain, a pg code and the store, and scrubs passwords', () => {
  const s = serializeError(new StoreWriteError(context, pgError()));
  assert.equal(s.type, 'StoreWriteError');
  assert.equal(s.store, 'postgres');
  assert.equal(s.retriable, true);
  assert.deepEqual(s.partitions, context.partitions);
  const cause = s.cause as Record<string, unknown>;
  assert.equal(cause.code, 'ECONNREFUSED');
  assert.doesNotMatch(JSON.stringify(s), /hunter2/);
  assert.match(String(cause.message), /postgres:\/\/u:\*\*\*@db/);
});

test('the serializer keeps the inner errors of an aggregate failure', () => {
  const e = new BatchWriteError([
    new StoreWriteError(context, new Error('a')),
    new StoreWriteError({ ...context, store: 'mongo' }, new Error('b')),
  ]);
  const s = serializeError(e);
  assert.deepEqual(
    (s.errors as { store: string }[]).map((x) => x.store),
    ['postgres', 'mongo'],
  );
});

test('a non-Error thrown value is logged as text', () => {
  assert.deepEqual(serializeError('nope'), { type: 'string', message: 'nope' });
});

test('the logger writes the serialised error with its cause, and no password', () => {
  let out = '';
  const sink = new Writable({ write: (c, _e, cb) => ((out += String(c)), cb()) });
  createLogger('info', 'test', sink).error({ err: new StoreWriteError(context, pgError()) }, 'batch failed');
  const line = JSON.parse(out) as { err: { cause: { code: string } } };
  assert.equal(line.err.cause.code, 'ECONNREFUSED');
  assert.doesNotMatch(out, /hunter2/);
});

test('scrub removes the password of every URL in a text', () => {
  assert.equal(scrub('a mongodb://u:p@h/ and postgres://x:y@z/d'), 'a mongodb://u:***@h/ and postgres://x:***@z/d');
});

test('a password holding an unencoded @ is redacted whole', () => {
  assert.equal(redactUrl('postgres://mchi:p@ss@w0rd@127.0.0.1:5432/db'), 'postgres://mchi:***@127.0.0.1:5432/db');
  assert.doesNotMatch(scrub('connect to postgres://u:a@b@c/d failed'), /a@b/);
});

// A hang guard, not a speed test: the old quadratic scrubber needed minutes for this text.
test('scrubbing a long text without URLs finishes (400,000 characters)', { timeout: 30_000 }, () => {
  const text = `a://${'x'.repeat(400_000)}`;
  assert.equal(scrub(text), text);
});

test('dead-letter previews escape terminal control sequences', () => {
  const raw = Buffer.from('\u001b[31mred\u0007 \u202eevil').toString('base64');
  assert.equal(preview(raw), '\\u001b[31mred\\u0007 \\u202eevil');
  assert.equal(printable('tab\there'), 'tab\\u0009here');
});
