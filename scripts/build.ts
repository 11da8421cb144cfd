/**
 * Bundles the Lambda handler into dist/sink.js (CommonJS, Node 20) for `serverless package`,
 * `serverless invoke local` and `serverless offline`. Optional native add-ons of the drivers stay
 * external: they are never loaded unless configured.
 */
import { build } from 'esbuild';
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

async function main() {
  const result = await build({
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
  });
  const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
  process.stderr.write(`built dist/sink.js (${(bytes / 1024).toFixed(0)} KiB with source map)\n`);
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(1);
});
