/**
 * The layout docs/architecture.md describes, checked on the source as folder rules: which folder
 * may import which, where database drivers may appear, and that lib/ holds what the Lambda bundles.
 */
import assert from 'node:assert/strict';
import { builtinModules } from 'node:module';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { build, transformSync } from 'esbuild';
import { PROJECT_ROOT } from '../../lib/config';
import { BUNDLE_OPTIONS } from '../../tools/bundle';

/** Every .ts file below `dir` (relative to the project, with `/` separators). */
function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(path.join(PROJECT_ROOT, dir), { withFileTypes: true })) {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory()) out.push(...sources(rel));
    else if (e.name.endsWith('.ts')) out.push(rel);
  }
  return out;
}

interface Import {
  spec: string;
  /** Erased at compile time (`import type`, `export type`): no run-time dependency. */
  typeOnly: boolean;
}

/** What a file imports: static and dynamic imports, re-exports and `require` calls. */
function imports(file: string): Import[] {
  const text = readFileSync(path.join(PROJECT_ROOT, file), 'utf8');
  const out: Import[] = [];
  for (const m of text.matchAll(/^(?:import|export)\s+(type\s+)?[^'";]*?from\s+'([^']+)'/gm))
    out.push({ spec: m[2], typeOnly: Boolean(m[1]) });
  for (const m of text.matchAll(/(?:require|import)\('([^']+)'\)/g)) out.push({ spec: m[1], typeOnly: false });
  return out;
}

/** The project file (without its extension) a relative import names, or undefined for a package. */
const target = (file: string, spec: string): string | undefined =>
  spec.startsWith('.') ? path.posix.join(path.posix.dirname(file), spec).replace(/\.(ts|js)$/, '') : undefined;

/** The package a bare specifier names (`pg`, `@aws-sdk/client-lambda`), or undefined for a built-in. */
function packageOf(spec: string): string | undefined {
  if (spec.startsWith('.') || spec.startsWith('node:') || builtinModules.includes(spec.split('/')[0])) return undefined;
  const parts = spec.split('/');
  return spec.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
}

/** The unit of lib/ a lib path belongs to: its folder (`lib/sink`) or its top-level module (`lib/config`). */
const unitOf = (p: string): string => p.split('/').slice(0, 2).join('/').replace(/\.ts$/, '');

/**
 * lib/'s units from the bottom up: a unit imports only itself and units further down this list.
 * The two adapters share a rank, so neither imports the other; `lib/stores` alone names both.
 */
const LIB_LAYERS: readonly (readonly string[])[] = [
  ['lib/errors', 'lib/shims'],
  ['lib/event'],
  ['lib/records'],
  ['lib/config'],
  ['lib/log'],
  ['lib/routes'],
  ['lib/sink'],
  ['lib/postgres', 'lib/mongo'],
  ['lib/stores'],
];
const rankOf = (unit: string): number => LIB_LAYERS.findIndex((layer) => layer.includes(unit));

/** The folders a top-level folder may import from (besides itself). */
const MAY_IMPORT: Record<string, readonly string[]> = {
  lib: [],
  handlers: ['lib'],
  tools: ['lib'],
  cli: ['lib', 'tools', 'handlers'],
  bench: ['lib', 'tools', 'handlers'],
  scripts: ['lib', 'tools'],
};

/** The drivers, and the one lib/ folder each may be imported from at run time (kafkajs: none; tools only). */
const DRIVERS: Record<string, string | undefined> = { pg: 'lib/postgres', mongodb: 'lib/mongo', kafkajs: undefined };

/**
 * The one upward import allowed: the default sink file's compiled routes are read and compiled
 * by tools/routes/ in development and tests; the build replaces the module (tools/routes/bundle.ts),
 * so the bundle holds the result and no tool (the bundle test below checks it).
 */
const DEV_SEAM = 'lib/routes/compiled.ts';

const offending = (files: string[], bad: (file: string, i: Import) => boolean): string[] =>
  files.flatMap((f) => imports(f).flatMap((i) => (bad(f, i) ? [`${f} → ${i.spec}`] : [])));

describe('imports go down', () => {
  for (const [folder, allowed] of Object.entries(MAY_IMPORT)) {
    test(`${folder}/ imports only ${allowed.length ? `${allowed.join('/, ')}/ and itself` : 'itself'}`, () => {
      const bad = offending(sources(folder), (f, i) => {
        const t = target(f, i.spec);
        if (f === DEV_SEAM && t?.startsWith('tools/routes/')) return false;
        return t !== undefined && !allowed.includes(t.split('/')[0]) && t.split('/')[0] !== folder;
      });
      assert.deepEqual(bad, []);
    });
  }

  test("lib/'s units import only their own or a lower layer (core below adapters, adapters below stores.ts)", () => {
    for (const unit of new Set(sources('lib').map(unitOf))) assert.ok(rankOf(unit) >= 0, `${unit} has no layer`);
    const bad = offending(sources('lib'), (f, i) => {
      const t = target(f, i.spec);
      if (t === undefined || unitOf(t) === unitOf(f)) return false;
      return rankOf(unitOf(t)) >= rankOf(unitOf(f));
    });
    assert.deepEqual(bad, []);
  });

  test('in lib/, only an adapter folder imports its database driver at run time, and no file imports kafkajs', () => {
    const bad = offending(sources('lib'), (f, i) => {
      const pkg = packageOf(i.spec);
      return !i.typeOnly && pkg !== undefined && pkg in DRIVERS && !f.startsWith(`${DRIVERS[pkg]}/`);
    });
    assert.deepEqual(bad, []);
  });

  test('lib/ imports at run time only the runtime dependencies', () => {
    const pkg = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    const bad = offending(sources('lib'), (_f, i) => {
      const p = packageOf(i.spec);
      return !i.typeOnly && p !== undefined && !(p in pkg.dependencies);
    });
    assert.deepEqual(bad, []);
  });
});

describe('the Lambda bundle', () => {
  const bundle = build({ ...BUNDLE_OPTIONS, write: false, logLevel: 'silent' });

  test('pulls in only the runtime dependencies', async () => {
    const result = await bundle;
    const packages = new Set(
      Object.keys(result.metafile.inputs)
        .filter((i) => i.includes('node_modules/'))
        .map((i) => packageOf(i.slice(i.lastIndexOf('node_modules/') + 'node_modules/'.length))),
    );
    const pkg = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    const direct = Object.keys(pkg.dependencies);
    for (const d of direct) assert.ok(packages.has(d), `${d} is a dependency the bundle does not use`);
    // The sink file is read and its schemas compiled by the build (yaml, ajv-errors): the bundle holds the result.
    const tools = ['kafkajs', '@aws-sdk/client-lambda', 'pg-copy-streams', 'uplot', 'playwright-core', 'esbuild'];
    for (const dev of [...tools, 'yaml', 'ajv-errors']) {
      assert.ok(!packages.has(dev), `the bundle pulls in the tool-only package ${dev}`);
    }
  });

  test("is made of handlers/ and lib/ only, and lib/ holds only the bundle and the stores' read sides", async () => {
    const result = await bundle;
    // `sink-file:` is the build's module of the compiled validators (tools/routes/bundle.ts).
    const own = Object.keys(result.metafile.inputs).filter(
      (i) => !i.includes('node_modules/') && !i.startsWith('sink-file:'),
    );
    assert.deepEqual(
      own.filter((i) => !i.startsWith('lib/') && !i.startsWith('handlers/')),
      [],
    );
    // A read side (inspect.ts) knows its store's tables and documents as the writer does, so it
    // lives beside it, though only the tools read with it. Types alone leave nothing to bundle.
    const typesOnly = (f: string) =>
      transformSync(readFileSync(path.join(PROJECT_ROOT, f), 'utf8'), { loader: 'ts' }).code.trim() === '';
    const unbundled = sources('lib').filter(
      (f) => !own.includes(f) && path.posix.basename(f) !== 'inspect.ts' && !typesOnly(f),
    );
    assert.deepEqual(unbundled, []);
  });
});
