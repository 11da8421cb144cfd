/**
 * A route as the sink's {@link RecordType} (pure): its compiled validator as the quick check and,
 * for a value it refuses, as the schema that names every problem by JSON path; its columns and
 * indexes from the route's plan. The stores and the sink core take it as they take any type.
 */
import { z } from 'zod';
import type { ErrorObject } from 'ajv';
import type { Column, RecordIndex, RecordType } from '../records/record-type';
import type { RoutePlan } from './plan';

/** A validator as Ajv compiles it (at load) or generates it (standalone code in the bundle). */
export interface CompiledValidator {
  (value: unknown): boolean;
  errors?: ErrorObject[] | null;
}

/** A JSON Pointer (`/a/0/b~1c`) as path segments (`a`, `0`, `b/c`). */
export const pointerSegments = (pointer: string): string[] =>
  pointer === ''
    ? []
    : pointer
        .slice(1)
        .split('/')
        .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));

/**
 * One problem of a refused value, in the words the sink's dead letters have used: `Required` for a
 * missing property (at its own path), `Expected <type>`, else the schema's own message.
 */
export function describeError(e: ErrorObject): { path: string[]; message: string } {
  const path = pointerSegments(e.instancePath);
  if (e.keyword === 'required') return { path: [...path, String(e.params.missingProperty)], message: 'Required' };
  if (e.keyword === 'type') return { path, message: `Expected ${String(e.params.type).replace(/,/g, ' or ')}` };
  return { path, message: e.message ?? e.keyword };
}

/**
 * The zod schema a {@link RecordType} carries, over a compiled validator: it accepts what the
 * validator accepts, unchanged, and otherwise reports each of its errors at its path.
 */
function validatorSchema<T>(validate: CompiledValidator): z.ZodType<T, z.ZodTypeDef, unknown> {
  return z.unknown().superRefine((value, ctx) => {
    if (validate(value)) return;
    for (const e of validate.errors ?? []) ctx.addIssue({ code: z.ZodIssueCode.custom, ...describeError(e) });
  }) as unknown as z.ZodType<T, z.ZodTypeDef, unknown>;
}

/**
 * The record type of a route: the columns of its plan (text columns of string properties hold the
 * field itself; the others a typed copy of it, the value keeping it too), its Postgres and Mongo
 * indexes, and `validate` as both the quick check and the schema.
 */
export function routeRecordType<T extends Record<string, unknown>>(
  plan: RoutePlan,
  validate: CompiledValidator,
): RecordType<T> {
  const required = new Set(Array.isArray(plan.schema.required) ? (plan.schema.required as string[]) : []);
  const columns = plan.postgres.columns.map((c): Column<T> => {
    const from = (v: T) => v[c.property] ?? null;
    const base = {
      name: c.column,
      sqlType: c.sqlType,
      property: c.property,
      ...(required.has(c.property) ? { required: true } : {}),
      ...(c.notNull ? { notNull: true } : {}),
    };
    return c.field ? { ...base, field: c.property, from } : { ...base, from };
  });
  const indexed = plan.postgres.columns.filter((c) => c.index || plan.mongo.indexes.includes(c.property));
  const indexes = indexed.map((c): RecordIndex => ({
    name: c.column,
    columns: c.index ? [c.column] : [],
    fields: plan.mongo.indexes.includes(c.property) ? [c.property] : [],
  }));
  return {
    name: `${plan.name} record`,
    route: plan.name,
    schema: validatorSchema<T>(validate),
    accepts: (value: unknown): value is T => validate(value),
    columns,
    indexes,
  };
}
