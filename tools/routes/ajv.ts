/**
 * The one Ajv set-up for record schemas (draft 2020-12, formats, custom messages), used to compile
 * them at load in development and into standalone code by the build, so both check alike.
 */
import Ajv2020, { type Options } from 'ajv/dist/2020';
import addErrors from 'ajv-errors';
import addFormats from 'ajv-formats';

/** The options of every record-schema Ajv: all errors (each problem named), strict (a typo in a schema is an error). */
const RECORD_OPTIONS: Options = { allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true };

/** An Ajv for record schemas; `source` keeps the generated code for `standaloneCode`. */
export function recordAjv(source = false): Ajv2020 {
  const ajv = new Ajv2020({ ...RECORD_OPTIONS, ...(source ? { code: { source: true, lines: false } } : {}) });
  addFormats(ajv);
  addErrors(ajv);
  return ajv;
}

let shared: Ajv2020 | undefined;

/** One Ajv for checking and compiling record schemas at load (making one compiles the meta-schemas: a tenth of a second). */
export const sharedRecordAjv = (): Ajv2020 => (shared ??= recordAjv());

/** The id a route's record schema is registered under (standalone code exports it by route name). */
export const routeSchemaId = (route: string): string => `quotes-sink:route:${route}`;
