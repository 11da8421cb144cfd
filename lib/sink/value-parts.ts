/**
 * How the stores keep a record compactly (pure): each field once, the rest in one place, the raw
 * text only when the stored parts would not give it back byte for byte.
 *
 * A value is split into the record type's own fields (string fields stored as columns and as
 * document fields, once), the other top-level fields (`extra`), and the raw text. The raw text is
 * kept only when `JSON.stringify` of the type's fields (in the type's order, those present and not
 * null) followed by `extra` is not exactly the text received: pretty-printed JSON, another field
 * order, explicit nulls, or numbers JavaScript would round (9007199254740993). Then the raw text,
 * which holds every field, replaces `extra`. Either way the exact text can be rebuilt, so a
 * stored record can be compared with, and repaired from, what was sent.
 */
import type { StoredHeader } from '../event/decode';

/** A record's value as the stores keep it. */
export interface ValueParts {
  /** The type's fields present in the value (strings, not null), in the type's order. */
  fields: Record<string, string>;
  /** The value's other top-level fields, in their order; undefined when there are none or `raw` is kept. */
  extra?: Record<string, unknown>;
  /** The text as received, only when `fields` and `extra` do not rebuild it exactly. */
  raw?: string;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** `fields` (in `names` order, strings only) then `extra`, as one object (a `__proto__` key is left out: it is never stored). */
function merged(
  names: readonly string[],
  fields: Readonly<Record<string, unknown>>,
  extra: Readonly<Record<string, unknown>> | undefined,
) {
  const out: Record<string, unknown> = {};
  for (const n of names) {
    const v = fields[n];
    if (typeof v === 'string') out[n] = v;
  }
  if (extra) for (const k of Object.keys(extra)) if (k !== '__proto__') out[k] = extra[k];
  return out;
}

/**
 * Whether `value`'s own fields already come in the order the parts rebuild them: the type's fields
 * present (strings) in the type's order, then the others. Then `JSON.stringify(value)` is the
 * rebuilt text, with no object to build.
 */
function inRebuildOrder(names: readonly string[], value: Record<string, unknown>, keys: readonly string[]): boolean {
  let next = 0;
  for (const k of keys) {
    const at = names.indexOf(k, next);
    if (at < 0) {
      if (names.includes(k)) return false;
      next = names.length;
    } else if (typeof value[k] !== 'string') return false;
    else next = at + 1;
  }
  return true;
}

/** Own keys of `value` and of every object in it. */
function countKeys(value: unknown): number {
  let n = 0;
  const stack: unknown[] = [value];
  for (let v = stack.pop(); stack.length > 0 || v !== undefined; v = stack.pop()) {
    if (typeof v !== 'object' || v === null) continue;
    if (Array.isArray(v)) {
      for (const x of v) stack.push(x);
      continue;
    }
    const keys = Object.keys(v);
    n += keys.length;
    for (const k of keys) stack.push((v as Record<string, unknown>)[k]);
  }
  return n;
}

/** Whether the characters of `text` from `from` to before `to` are all digits (a key JavaScript orders first). */
function allDigits(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return to > from;
}

/** What may stand outside strings in compact JSON without numbers: brackets, `:`, `,` and the letters of true, false, null. */
const STRUCTURE: boolean[] = Array.from(
  { length: 128 },
  (_, c) => '{}[]:,'.includes(String.fromCharCode(c)) || (c >= 97 && c <= 122),
);

/**
 * Whether `text` is certainly what `JSON.stringify` makes of the value it parses to, `keyCount` the
 * value's keys at every level: no backslash (so every string is written as stringify writes it), no
 * white space or number outside strings, no all-digit key (JavaScript puts those first), and as many
 * keys as the value has (no duplicate). A scan of the text, a fifth of what stringify costs; false
 * means "maybe not".
 */
function isCompactJson(text: string, keyCount: number): boolean {
  if (text.includes('\\')) return false;
  let keys = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 34) {
      if (!STRUCTURE[c]) return false;
      continue;
    }
    const end = text.indexOf('"', i + 1);
    if (text.charCodeAt(end + 1) === 58) {
      if (allDigits(text, i + 1, end)) return false;
      keys++;
    }
    i = end;
  }
  return keys === keyCount;
}

/**
 * The text a record's stored parts stand for: `JSON.stringify` of the type's string fields found
 * in `source` (a row or document; nulls and missing fields left out) followed by `extra`.
 */
export function rebuildText(
  names: readonly string[],
  source: Readonly<Record<string, unknown>>,
  extra?: Readonly<Record<string, unknown>> | null,
): string {
  return JSON.stringify(merged(names, source, extra ?? undefined));
}

/**
 * Splits a parsed value into the parts the stores keep (see the module comment). `names` are the
 * record type's own fields, `text` the value as received. A value that is not a JSON object is kept
 * as raw text only.
 */
export function splitValue(names: readonly string[], value: unknown, text: string): ValueParts {
  if (!isPlainObject(value)) return { fields: {}, raw: text };
  const fields = pick(names, value);
  const keys = Object.keys(value);
  // A `__proto__` key would not survive every driver's round trip: keep such a value raw.
  if (keys.includes('__proto__')) return { fields, raw: text };
  let extra: Record<string, unknown> | undefined;
  for (const k of keys) if (!names.includes(k)) (extra ??= {})[k] = value[k];
  const same = inRebuildOrder(names, value, keys)
    ? isCompactJson(text, countKeys(value)) || JSON.stringify(value) === text
    : rebuildText(names, fields, extra) === text;
  if (!same) return { fields, raw: text };
  return extra ? { fields, extra } : { fields };
}

/** The type's string fields of `value`, in the type's order. */
function pick(names: readonly string[], value: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of names) {
    const v = value[n];
    if (typeof v === 'string' && Object.hasOwn(value, n)) out[n] = v;
  }
  return out;
}

/** A record's key as stored once: its text when the text gives back the same bytes, else its base64. */
export interface StoredKey {
  text?: string;
  base64?: string;
}

/** The key as stored once (`{}` for a record without a key). */
export function storedKey(keyText: string | undefined, keyBase64: string | undefined): StoredKey {
  if (keyBase64 === undefined) return {};
  // The text is the strict UTF-8 decoding of the key's bytes, less a leading byte-order mark: it
  // gives the bytes back exactly when it encodes to as many bytes.
  if (keyText !== undefined && Buffer.byteLength(keyText, 'utf8') === Buffer.byteLength(keyBase64, 'base64'))
    return { text: keyText };
  return { base64: keyBase64 };
}

/** The base64 of a stored key, from whichever form the row or document holds (null: no key). */
export function keyBase64Of(text: string | null | undefined, base64: string | null | undefined): string | null {
  if (typeof base64 === 'string') return base64;
  return typeof text === 'string' ? Buffer.from(text, 'utf8').toString('base64') : null;
}

/**
 * Header names a document can hold as field names: not empty, no leading `$`, no `.`, not
 * `__proto__`, and not an array index (JavaScript puts those first, out of the producer's order).
 */
const FIELD_NAME = /^(?!\$)(?!__proto__$)(?!(?:0|[1-9]\d*)$)[^.]+$/;

/**
 * Headers as a document keeps them: `{ name: text }` when every value is text and the names are
 * distinct field names (the usual case, and half the bytes), else the list as decoded; undefined
 * when there are none.
 */
export function compactHeaders(headers: readonly StoredHeader[]): Record<string, string> | StoredHeader[] | undefined {
  if (headers.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const h of headers) {
    if (h.value === undefined || h.nameBase64 !== undefined || !FIELD_NAME.test(h.name) || Object.hasOwn(out, h.name))
      return [...headers];
    out[h.name] = h.value;
  }
  return out;
}

/** The headers of a stored document, whichever form it holds. */
export function expandHeaders(stored: unknown): StoredHeader[] {
  if (Array.isArray(stored)) return stored as StoredHeader[];
  if (!isPlainObject(stored)) return [];
  return Object.entries(stored).map(([name, value]) => ({ name, value: String(value) }));
}
