/**
 * The sink file's routes and their validators, compiled at load: in development and tests. The
 * file is SINK_FILE, or the default sink.yaml. The build replaces this module
 * (tools/routes/bundle.ts) by one holding the same, made ahead of time from the file SINK_FILE
 * names at build time, so the function neither reads the file nor compiles a schema at a cold start.
 */
import { DEFAULT_SINK_FILE, sinkFilePath } from '../config';
import type { RoutePlan } from './plan';
import type { CompiledValidator } from './record-type';
// The one import of tools/ in lib/: this module is replaced in the bundle (tools/routes/bundle.ts).
import { loadSinkFile } from '../../tools/routes/load';
import { compileValidators } from '../../tools/routes/validators';

export { DEFAULT_SINK_FILE };

/** The sink file's route plans and each route's validator, by route name. */
export function compiledSink(): { plans: RoutePlan[]; validators: Record<string, CompiledValidator> } {
  // Only SINK_FILE is read here: the rest of the configuration is checked where it is used.
  const { routes } = loadSinkFile(sinkFilePath({ SINK_FILE: process.env.SINK_FILE || undefined }));
  return { plans: routes, validators: compileValidators(routes) };
}
