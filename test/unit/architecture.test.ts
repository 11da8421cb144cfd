/**
 * The layering README "Architecture" promises, checked on the source: which folder imports which,
 * where database drivers may appear, and what the Lambda bundle pulls in.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { build } from 'esbuild';
import { PROJECT_ROOT } from '../../lib/config';
import { BUNDLE_OPTIONS } from '../../scripts/build';

/** Every .ts file below `dir` (relative to the project). */
function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(path.join(PROJECT_ROOT, dir), { withFileTypes: true })) {
    const rel = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...sources(rel));
    else if (e.name.endsWith('.ts')) out.push(rel);
  }
  return out;
}

/** The module specifiers a file imports at run time (type-only imports left out). */
function runtimeImports(file: string): string[] {
  const text = readFileSync(path.join(PROJECT_ROOT, file), 'utf8');
  const specs: string[] = [];
  for (const m of text.matchAll(/^import\s+(type\s+)?[^'"]*?from\s+'([^']+)'/gm)) if (!m[1]) specs.push(m[2]);
  for (const m of text.matchAll(/require\('([^']+)'\)/g)) specs.push(m[1]);
  return specs;
}

/** Project folders (e.g. `lib/sink`, `handlers`) a file imports from. */
function importedFolders(file: string): string[] {
  return runtimeImports(file)
    .filter((s) => s.startsWith('.'))
    .map((s) => path.relative(PROJECT_ROOT, path.resolve(PROJECT_ROOT, path.dirname(file), s)))
    .map((p) => (p.startsWith('lib/') ? p.split('/').slice(0, 2).join('/') : p.split('/')[0]));
}

const TOOLS = ['lib/emulator', 'lib/stack', 'lib/cli', 'lib/ui', 'lib/deploy', 'lib/producer', 'lib/proc'];

describe('imports go down', () => {
  test('nothing in lib/ imports handlers/', () => {
    const offenders = sources('lib').filter((f) => importedFolders(f).includes('handlers'));
    assert.deepEqual(offenders, []);
  });

  test('lib/event and lib/records import no layer above them', () => {
    const above = ['lib/sink', ...TOOLS];
    const offenders = [...sources('lib/event'), ...sources('lib/records')].filter((f) =>
      importedFolders(f).some((d) => above.includes(d)),
    );
    assert.deepEqual(offenders, []);
  });

  test('lib/sink imports no tool', () => {
    const offenders = sources('lib/sink').filter((f) => importedFolders(f).some((d) => TOOLS.includes(d)));
    assert.deepEqual(offenders, []);
  });

  test('only adapters import a database driver at run time', () => {
    const core = [
      ...sources('lib/event'),
      ...sources('lib/records'),
      ...['batch', 'prepare', 'write', 'port', 'model', 'table-spec', 'postgres-tables', 'metrics', 'tables'].map(
        (f) => `lib/sink/${f}.ts`,
      ),
    ];
    const offenders = core.filter((f) => runtimeImports(f).some((s) => ['pg', 'mongodb', 'kafkajs'].includes(s)));
    assert.deepEqual(offenders, []);
  });
});

test('the Lambda bundle pulls in only the runtime dependencies', async () => {
  const result = await build({ ...BUNDLE_OPTIONS, write: false, logLevel: 'silent' });
  const packages = new Set(
    Object.keys(result.metafile.inputs)
      .filter((i) => i.includes('node_modules/'))
      .map((i) => {
        const parts = i.slice(i.lastIndexOf('node_modules/') + 'node_modules/'.length).split('/');
        return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
      }),
  );
  const pkg = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
  };
  const direct = Object.keys(pkg.dependencies);
  for (const d of direct) assert.ok(packages.has(d), `${d} is a dependency the bundle does not use`);
  // The sink file is read and its schemas compiled by the build (yaml, ajv, ajv-errors): the bundle holds the result.
  const tools = ['kafkajs', '@aws-sdk/client-lambda', 'pg-copy-streams', 'uplot', 'playwright-core', 'esbuild'];
  for (const dev of [...tools, 'yaml', 'ajv-errors']) {
    assert.ok(!packages.has(dev), `the bundle pulls in the tool-only package ${dev}`);
  }
});
