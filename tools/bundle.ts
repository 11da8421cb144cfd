/**
 * How the Lambda handler is bundled into dist/sink.js (CommonJS, Node 20) for `serverless package`,
 * `serverless invoke local` and `serverless offline`: scripts/build.ts builds with these options,
 * scripts/offline.ts watches with them, and the benchmark and the architecture test read them.
 * Optional native add-ons of the drivers stay external: they are never loaded unless configured.
 */
import type { BuildOptions, BuildResult } from 'esbuild';
import path from 'node:path';
import { sinkFilePlugin } from './routes/bundle';

const root = path.resolve(__dirname, '..');

/** Optional peer modules that pg and mongodb only `require` when a feature asks for them. */
export const OPTIONAL_EXTERNALS = [
  'pg-native',
  'kerberos',
  '@mongodb-js/zstd',
  '@aws-sdk/credential-providers',
  'gcp-metadata',
  'snappy',
  'socks',
  'aws4',
  'mongodb-client-encryption',
];

/**
 * Packages replaced in the bundle by smaller equivalents: mongodb-connection-string-url parses
 * with `whatwg-url`, 300 KB of it Unicode tables, where Node's own URL implements the same standard.
 */
export const BUNDLE_ALIASES = { 'whatwg-url': path.join(root, 'lib', 'shims', 'whatwg-url.ts') };

/**
 * The bundle's esbuild options; scripts/offline.ts watches with the same. Minified (names kept:
 * errors are named after their class), and the source map written beside the bundle without a
 * reference to it: serverless.yml leaves it out of the zip, and Node never reads it at start.
 */
export const BUNDLE_OPTIONS = {
  entryPoints: [path.join(root, 'handlers', 'sink.ts')],
  outfile: path.join(root, 'dist', 'sink.js'),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: 'external',
  minify: true,
  keepNames: true,
  legalComments: 'none',
  alias: BUNDLE_ALIASES,
  external: OPTIONAL_EXTERNALS,
  metafile: true,
  logLevel: 'warning',
  // The default sink file's routes, checked and compiled now: the function compiles nothing at start.
  plugins: [sinkFilePlugin()],
} satisfies BuildOptions;

/** The line a build ends with: the bundle's size (its source map beside it, not counted). */
export function builtLine(result: BuildResult<{ metafile: true }>): string {
  const bundle = Object.entries(result.metafile.outputs).find(([file]) => file.endsWith('.js'));
  return `built dist/sink.js (${((bundle?.[1].bytes ?? 0) / 1024).toFixed(0)} KiB; source map beside it, not in the zip)`;
}
