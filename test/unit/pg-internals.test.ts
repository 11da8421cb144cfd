/**
 * lib/postgres/copy.ts drives pg's private `Connection` methods and its submittable protocol (no
 * stream library in the bundle). package.json pins pg to patch releases of the version this was
 * written against; these checks fail on a pg whose internals differ, before a COPY does.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import { PROJECT_ROOT } from '../../lib/config';

const pkg = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
};
const installed = (JSON.parse(readFileSync(require.resolve('pg/package.json'), 'utf8')) as { version: string }).version;

test('pg is pinned to patch releases (~x.y.z) and the installed one is in that range', () => {
  const m = /^~(\d+)\.(\d+)\.(\d+)$/.exec(pkg.dependencies.pg);
  assert.ok(m, `package.json pins pg with ~ (got ${pkg.dependencies.pg})`);
  const [major, minor, patch] = installed.split('.').map(Number);
  assert.deepEqual([major, minor], [Number(m[1]), Number(m[2])], `pg ${installed} is outside ${pkg.dependencies.pg}`);
  assert.ok(patch >= Number(m[3]), `pg ${installed} is below ${pkg.dependencies.pg}`);
});

test("pg's Connection has the copy-in methods lib/postgres/copy.ts sends with", () => {
  const proto = (pg as unknown as { Connection: { prototype: Record<string, unknown> } }).Connection.prototype;
  for (const method of ['query', 'sendCopyFromChunk', 'endCopyFrom']) {
    assert.equal(typeof proto[method], 'function', `Connection.${method}`);
  }
});

test("pg's Client submits a query object and calls the handlers a copy-in answers", () => {
  const client = readFileSync(require.resolve('pg/lib/client.js'), 'utf8');
  assert.match(client, /\.submit\(this\.connection\)/, 'Client calls query.submit(connection)');
  for (const handler of ['handleCopyInResponse', 'handleCommandComplete', 'handleError', 'handleReadyForQuery']) {
    assert.match(client, new RegExp(`activeQuery\\.${handler}\\(`), `Client calls activeQuery.${handler}`);
  }
});
