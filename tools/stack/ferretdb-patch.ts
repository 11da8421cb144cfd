/**
 * Two fixes to FerretDB v1.24.2's SQLite backend, applied at build time to a copy of the module that
 * the build uses through `go build -modfile` with a `replace` (the module cache stays untouched), so the native stack answers `_id` lookups from the `_id_`
 * index instead of scanning the collection (issue 24):
 *
 * 1. The backend creates the `_id_` unique index on `_ferretdb_sjson->"_id"` but pushes an `_id`
 *    equality down as `_ferretdb_sjson->'$._id' = ?`. SQLite matches an expression index only to
 *    the same expression, so every `findOne({_id})`, update and delete by `_id` scanned the whole
 *    table. The patch writes the pushdown with the index's own expression.
 * 2. `{_id: {$in: [...]}}` was not pushed down at all (a scan, every document decoded in Go). The
 *    patch pushes down an `$in` of strings or ObjectIDs as `IN (?, …)`; FerretDB filters the rows
 *    in memory afterwards as before, so the answer is the same.
 */
import { chmodSync, cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** One exact replacement in one file of the module; the build fails if the text is not there. */
interface Edit {
  file: string;
  from: string;
  to: string;
}

const IN_CASE = `		case *types.Document:
			whereClause, args = idInClause(v.(*types.Document))
		}
	}

	q += whereClause`;

const IN_HELPER = `
// idInClause pushes down {_id: {$in: [strings or ObjectIDs]}} (quotes-sink's patch); anything
// else is not pushed down. The handler still filters the rows in memory.
func idInClause(d *types.Document) (string, []any) {
	if d.Len() != 1 {
		return "", nil
	}
	v, err := d.Get("$in")
	if err != nil {
		return "", nil
	}
	arr, ok := v.(*types.Array)
	if !ok || arr.Len() == 0 || arr.Len() > 10000 {
		return "", nil
	}
	args := make([]any, 0, arr.Len())
	for i := 0; i < arr.Len(); i++ {
		e := must.NotFail(arr.Get(i))
		switch e.(type) {
		case string, types.ObjectID:
			args = append(args, string(must.NotFail(sjson.MarshalSingleValue(e))))
		default:
			return "", nil
		}
	}
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(args)), ", ")
	return fmt.Sprintf(\` WHERE %s IN (%s)\`, metadata.IDColumn, marks), args
}
`;

const EDITS: Edit[] = [
  {
    file: 'internal/backends/sqlite/metadata/metadata.go',
    from: `IDColumn = DefaultColumn + "->'$._id'"`,
    to: `IDColumn = DefaultColumn + "->'_id'"`,
  },
  {
    file: 'internal/backends/sqlite/collection.go',
    from: `		}
	}

	q += whereClause`,
    to: IN_CASE,
  },
];

/** The edited text of `file` of the module at `moduleDir`: every edit of that file applied once. */
function edited(moduleDir: string, file: string): string {
  let text = readFileSync(path.join(moduleDir, file), 'utf8');
  for (const e of EDITS.filter((x) => x.file === file)) {
    if (text.split(e.from).length !== 2)
      throw new Error(`FerretDB patch: ${file} does not hold the expected text once`);
    text = text.replace(e.from, e.to);
  }
  return file.endsWith('collection.go') ? text + IN_HELPER : text;
}

const MODULE = 'github.com/FerretDB/FerretDB';

/**
 * Copies the FerretDB module at `moduleDir` into `outDir`, patches the copy, and writes beside it
 * a go.mod (the launcher's `srcDir/go.mod` with a `replace` to the copy) and its go.sum; returns
 * that go.mod's path, for `go build -modfile`.
 */
export function prepareFerretdbBuild(moduleDir: string, srcDir: string, outDir: string): string {
  const copy = path.join(outDir, 'FerretDB');
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  cpSync(moduleDir, copy, { recursive: true });
  // The module cache's folders are read-only: make the copy's writable, so the next build can remove it.
  chmodSync(copy, 0o755);
  for (const e of readdirSync(copy, { recursive: true, withFileTypes: true }))
    if (e.isDirectory()) chmodSync(path.join(e.parentPath ?? e.path, e.name), 0o755);
  for (const file of [...new Set(EDITS.map((e) => e.file))]) {
    const text = edited(moduleDir, file);
    chmodSync(path.join(copy, file), 0o644);
    writeFileSync(path.join(copy, file), text);
  }
  const modfile = path.join(outDir, 'go.mod');
  const mod = readFileSync(path.join(srcDir, 'go.mod'), 'utf8');
  writeFileSync(modfile, `${mod.trimEnd()}\n\nreplace ${MODULE} => ${copy}\n`);
  writeFileSync(path.join(outDir, 'go.sum'), readFileSync(path.join(srcDir, 'go.sum')));
  return modfile;
}
