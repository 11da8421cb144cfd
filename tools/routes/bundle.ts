/**
 * The esbuild plugin that puts the sink file (SINK_FILE, or the default) into the function's bundle: it checks the
 * file (a bad one fails the build with its problems) and replaces lib/routes/compiled.ts by its route plans
 * as JSON and Ajv's standalone code of their validators. The bundle holds no YAML parser and no
 * schema compiler.
 */
import path from 'node:path';
import type { Plugin } from 'esbuild';
import { loadSinkFile } from './load';
import { sinkFilePath } from '../../lib/config';
import { standaloneValidators } from './validators';

const COMPILED = path.resolve(__dirname, '..', '..', 'lib', 'routes', 'compiled.ts');
const VALIDATORS = 'sink-file:validators';

/**
 * Replaces lib/routes/compiled.ts in a bundle by a sink file's routes, compiled ahead of time:
 * `file`, else the one SINK_FILE names when the build starts, else the default sink.yaml.
 */
export function sinkFilePlugin(file?: string): Plugin {
  return {
    name: 'sink-file',
    setup(build) {
      const named = () => file ?? sinkFilePath({ SINK_FILE: process.env.SINK_FILE || undefined });
      let loaded: ReturnType<typeof loadSinkFile> = { file: named(), routes: [], sources: [named()] };
      build.onStart(() => {
        loaded = loadSinkFile(named());
      });
      build.onLoad({ filter: /[\\/]lib[\\/]routes[\\/]compiled\.ts$/ }, (args) => {
        if (path.resolve(args.path) !== COMPILED) return undefined;
        const contents = [
          `import * as validators from ${JSON.stringify(VALIDATORS)};`,
          `const plans = ${JSON.stringify(loaded.routes)};`,
          'export function compiledSink() { return { plans, validators }; }',
        ].join('\n');
        return { contents, loader: 'js', resolveDir: path.dirname(COMPILED), watchFiles: loaded.sources };
      });
      build.onResolve({ filter: /^sink-file:validators$/ }, () => ({ path: VALIDATORS, namespace: 'sink-file' }));
      build.onLoad({ filter: /.*/, namespace: 'sink-file' }, () => ({
        contents: standaloneValidators(loaded.routes),
        loader: 'js',
        resolveDir: path.resolve(__dirname, '..', '..'),
      }));
    },
  };
}
