/** The routes' record validators: compiled by Ajv at load (development), or as standalone code (the build). */
import standaloneCode from 'ajv/dist/standalone';
import { recordAjv, routeSchemaId, sharedRecordAjv } from './ajv';
import type { RoutePlan } from '../../lib/routes/plan';
import type { CompiledValidator } from '../../lib/routes/record-type';

/** Each route's validator by route name, compiled now (what the build does ahead of time). */
export function compileValidators(plans: readonly RoutePlan[]): Record<string, CompiledValidator> {
  const ajv = sharedRecordAjv();
  return Object.fromEntries(plans.map((p) => [p.name, ajv.compile(p.schema) as CompiledValidator]));
}

/**
 * A CommonJS module exporting each route's validator by route name: the code Ajv generates, so
 * loading it compiles nothing (it requires only Ajv's small runtime helpers and formats).
 */
export function standaloneValidators(plans: readonly RoutePlan[]): string {
  const ajv = recordAjv(true);
  for (const p of plans) ajv.addSchema({ ...p.schema, $id: routeSchemaId(p.name) });
  return standaloneCode(ajv, Object.fromEntries(plans.map((p) => [p.name, routeSchemaId(p.name)])));
}
