/**
 * Bundles the Lambda handler into dist/sink.js (CommonJS, Node 20) for `serverless package`,
 * `serverless invoke local` and `serverless offline`. Optional native add-ons of the drivers stay
 * external: they are never loaded unless configured.
 */
import { build, type BuildOptions, type BuildResult } from 'esbuild';
import path from 'node:path';

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

/** The bundle's esbuild options; scripts/offline.ts watches with the same. */
export const BUNDLE_OPTIONS = {
  entryPoints: [path.join(root, 'handlers', 'sink.ts')],
  outfile: path.join(root, 'dist', 'sink.js'),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  minify: false,
  external: OPTIONAL_EXTERNALS,
  metafile: true,
  logLevel: 'warning',
} satisfies BuildOptions;

/** The line a build ends with: the bundle's size. */
export function builtLine(result: BuildResult<{ metafile: true }>): string {
  const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
  return `built dist/sink.js (${(bytes / 1024).toFixed(0)} KiB with source map)`;
}

async function main() {
  const result = await build(BUNDLE_OPTIONS);
  process.stderr.write(`${builtLine(result)}\n`);
}

// Run as a script (npm run build), not when scripts/offline.ts imports the options.
if (require.main === module) {
  main().catch((e) => {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exit(1);
  });
}
