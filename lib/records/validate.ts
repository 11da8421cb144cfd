/** Pure validation of a decoded value against a record type. */
import { RecordError } from '../event/errors';
import type { Coordinates } from '../event/coordinates';
import type { RecordType } from './record-type';

/** The validated value, or a RecordError of kind `schema` listing every problem by field. */
export function validateRecord<T>(
  type: RecordType<T>,
  value: unknown,
  coordinates: Coordinates,
): { ok: true; value: T } | { ok: false; error: RecordError } {
  if (type.accepts?.(value)) return { ok: true, value };
  const r = type.schema.safeParse(value);
  if (r.success) return { ok: true, value: r.data };
  const detail = r.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(value)'}: ${i.message}`).join('; ');
  return { ok: false, error: new RecordError('schema', coordinates, `not a valid ${type.name}: ${detail}`) };
}
