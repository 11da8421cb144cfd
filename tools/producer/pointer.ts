/** JSON Pointers (RFC 6901) into a record's value, for its Kafka key (`produce --key /id`). */

/** A JSON Pointer (RFC 6901): `""` (the whole value) or `/`-separated tokens. */
export const JSON_POINTER = /^(\/([^~/]|~[01])*)*$/;

/** The tokens of a JSON Pointer (`/a~1b/0` → `['a/b', '0']`); see {@link JSON_POINTER}. */
export function pointerTokens(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** The value at `tokens` in `value`, undefined if there is none (RFC 6901 evaluation). */
export function valueAt(value: unknown, tokens: readonly string[]): unknown {
  let at = value;
  for (const t of tokens) {
    if (Array.isArray(at)) {
      if (!/^(0|[1-9]\d*)$/.test(t)) return undefined;
      at = at[Number(t)];
    } else if (at !== null && typeof at === 'object' && Object.hasOwn(at, t)) {
      at = (at as Record<string, unknown>)[t];
    } else {
      return undefined;
    }
  }
  return at;
}

/**
 * The Kafka key at `tokens` in `value`: a string as it is, a number or a boolean as its JSON text;
 * undefined for anything else (nothing there, null, an object or an array).
 */
export function keyAt(value: unknown, tokens: readonly string[]): string | undefined {
  const at = valueAt(value, tokens);
  if (typeof at === 'string') return at;
  if (typeof at === 'number' || typeof at === 'boolean') return JSON.stringify(at);
  return undefined;
}
