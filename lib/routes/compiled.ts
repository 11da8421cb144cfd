/**
 * The default sink file's routes and their validators, compiled at load: in development and tests.
 * The build replaces this module (tools/routes/bundle.ts) by one holding the same, made ahead of time, so the
 * function neither reads the file nor compiles a schema at a cold start.
 */
import path from 'node:path';
import type { RoutePlan } from './plan';
import type { CompiledValidator } from './record-type';
// The one import of tools/ in lib/: this module is replaced in the bundle (tools/routes/bundle.ts).
import { loadSinkFile } from '../../tools/routes/load';
import { compileValidators } from '../../tools/routes/validators';

/** The default sink file, at the root. */
export const DEFAULT_SINK_FILE = path.resolve(__dirname, '..', '..', 'sink.yaml');

/** The default sink file's route plans and each route's validator, by route name. */
export function compiledSink(): { plans: RoutePlan[]; validators: Record<string, CompiledValidator> } {
  const { routes } = loadSinkFile(DEFAULT_SINK_FILE);
  return { plans: routes, validators: compileValidators(routes) };
}
