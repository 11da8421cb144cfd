/** `npm run build`: bundles the Lambda handler into dist/sink.js with the options of tools/bundle.ts. */
import { build } from 'esbuild';
import { BUNDLE_OPTIONS, builtLine } from '../tools/bundle';

async function main() {
  const result = await build(BUNDLE_OPTIONS);
  process.stderr.write(`${builtLine(result)}\n`);
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(1);
});
