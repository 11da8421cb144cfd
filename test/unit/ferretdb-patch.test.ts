/** The FerretDB patch (tools/stack/ferretdb-patch.ts) on a stand-in module: what it changes, and that it refuses other text. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { prepareFerretdbBuild } from '../../tools/stack/ferretdb-patch';

const METADATA = `package metadata\n\nconst (\n\tIDColumn = DefaultColumn + "->'$._id'"\n)\n`;
const COLLECTION = `package sqlite\n\nfunc q() {\n\tif x {\n\t\tswitch v.(type) {\n\t\tcase string:\n\t\t}\n\t}\n\n\tq += whereClause\n}\n`;

/** The stand-ins' folders, removed after the tests. */
const roots: string[] = [];
after(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

/** A stand-in module and launcher source in a fresh folder. */
function standIn(collection = COLLECTION): { module: string; src: string; out: string } {
  const root = mkdtempSync(path.join(os.tmpdir(), 'fdb-patch-'));
  roots.push(root);
  const module = path.join(root, 'mod');
  mkdirSync(path.join(module, 'internal/backends/sqlite/metadata'), { recursive: true });
  writeFileSync(path.join(module, 'internal/backends/sqlite/metadata/metadata.go'), METADATA);
  writeFileSync(path.join(module, 'internal/backends/sqlite/collection.go'), collection);
  const src = path.join(root, 'src');
  mkdirSync(src);
  writeFileSync(path.join(src, 'go.mod'), 'module launcher\n\nrequire github.com/FerretDB/FerretDB v1.24.2\n');
  writeFileSync(path.join(src, 'go.sum'), 'sums\n');
  return { module, src, out: path.join(root, 'out') };
}

test("the copy's _id pushdown uses the index's expression, $in is pushed down, and the go.mod replaces the module", () => {
  const { module, src, out } = standIn();
  const modfile = prepareFerretdbBuild(module, src, out);
  const copy = path.join(out, 'FerretDB', 'internal/backends/sqlite');
  assert.match(readFileSync(path.join(copy, 'metadata/metadata.go'), 'utf8'), /IDColumn = DefaultColumn \+ "->'_id'"/);
  const collection = readFileSync(path.join(copy, 'collection.go'), 'utf8');
  assert.match(collection, /case \*types\.Document:\n\t\t\twhereClause, args = idInClause/);
  assert.match(collection, /func idInClause\(d \*types\.Document\)/);
  assert.match(
    readFileSync(modfile, 'utf8'),
    new RegExp(`replace github.com/FerretDB/FerretDB => ${path.join(out, 'FerretDB')}\\n$`),
  );
  assert.equal(readFileSync(path.join(out, 'go.sum'), 'utf8'), 'sums\n');
  // The module itself is left as it was.
  assert.equal(readFileSync(path.join(module, 'internal/backends/sqlite/collection.go'), 'utf8'), COLLECTION);
});

test('a module whose text differs is refused, naming the file', () => {
  const { module, src, out } = standIn('package sqlite\n');
  assert.throws(() => prepareFerretdbBuild(module, src, out), /collection\.go does not hold the expected text once/);
});
