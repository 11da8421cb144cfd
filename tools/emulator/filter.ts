/**
 * Event filtering as the Kafka event source mapping does it (FilterCriteria): each filter is a JSON
 * pattern over the record's metadata (`topic`, `partition`, `offset`, `timestamp`, `timestampType`)
 * and its `key` and `value`, decoded from base64 and parsed as JSON when they are JSON. A record
 * passes if any filter matches; records that pass none are skipped, and their offsets committed.
 * https://docs.aws.amazon.com/lambda/latest/dg/with-kafka-filtering.html and
 * https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html (the syntax).
 *
 * The subset implemented: exact values (strings, numbers, booleans, null), `prefix`, `suffix`,
 * `equals-ignore-case`, `numeric` ranges, `exists`, and `anything-but` (values or a prefix).
 */
import { QuotesSinkError } from '../../lib/errors';
import type { KafkaEventRecord } from '../../lib/event/types';

/** One parsed filter pattern: an object whose leaves are arrays of matchers. */
export type FilterPattern = Record<string, unknown>;

/** A FilterCriteria pattern that is not valid JSON or not an object (AWS rejects the mapping). */
export class FilterPatternError extends QuotesSinkError {}

/** AWS's limit of filters per mapping (more need a quota increase). */
export const MAX_FILTERS = 5;

/** Parses FilterCriteria's `Filters[].Pattern` strings; throws {@link FilterPatternError} naming the bad one. */
export function parseFilters(patterns: readonly string[]): FilterPattern[] {
  return patterns.map((p, i) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(p);
    } catch {
      throw new FilterPatternError(`FilterCriteria filter ${i + 1} is not valid JSON: ${p}`);
    }
    if (!isObject(parsed)) throw new FilterPatternError(`FilterCriteria filter ${i + 1} is not a JSON object: ${p}`);
    return parsed;
  });
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A base64 key or value as filters see it: its JSON if it parses, else its text. */
function decoded(b64: string | null | undefined): unknown {
  if (b64 === null || b64 === undefined) return null;
  const text = Buffer.from(b64, 'base64').toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** What the patterns are matched against. */
export function filterView(r: KafkaEventRecord): Record<string, unknown> {
  const { topic, partition, offset, timestamp, timestampType } = r;
  return { topic, partition, offset, timestamp, timestampType, key: decoded(r.key), value: decoded(r.value) };
}

/** `numeric: [">", 0, "<=", 5]`: every comparison holds. */
function numericMatch(spec: unknown, x: unknown): boolean {
  if (typeof x !== 'number' || !Array.isArray(spec)) return false;
  for (let i = 0; i + 1 < spec.length; i += 2) {
    const [op, n] = [spec[i] as string, spec[i + 1] as number];
    const ok = { '=': x === n, '>': x > n, '>=': x >= n, '<': x < n, '<=': x <= n }[op];
    if (!ok) return false;
  }
  return true;
}

/** `anything-but`: a value, a list of values, or `{prefix}`. */
function anythingBut(spec: unknown, x: unknown): boolean {
  if (isObject(spec) && typeof spec.prefix === 'string') return !(typeof x === 'string' && x.startsWith(spec.prefix));
  return !(Array.isArray(spec) ? spec : [spec]).includes(x);
}

/** One matcher against one value. */
function matchOne(m: unknown, x: unknown): boolean {
  if (!isObject(m)) return m === x;
  const str = typeof x === 'string' ? x : undefined;
  if (typeof m.prefix === 'string') return str !== undefined && str.startsWith(m.prefix);
  if (typeof m.suffix === 'string') return str !== undefined && str.endsWith(m.suffix);
  if (typeof m['equals-ignore-case'] === 'string') return str?.toLowerCase() === m['equals-ignore-case'].toLowerCase();
  if ('numeric' in m) return numericMatch(m.numeric, x);
  if ('anything-but' in m) return anythingBut(m['anything-but'], x);
  return false;
}

/** One matcher of a leaf array against a field (present or not; an array field matches by any element). */
function matchLeaf(m: unknown, present: boolean, v: unknown): boolean {
  if (isObject(m) && 'exists' in m) return m.exists === (present && v !== null);
  if (!present) return false;
  return (Array.isArray(v) ? v : [v]).some((x) => matchOne(m, x));
}

/** Whether `data` matches `pattern`: every field named matches one of its matchers. */
export function matchesPattern(pattern: FilterPattern, data: unknown): boolean {
  const obj = isObject(data) ? data : {};
  return Object.entries(pattern).every(([k, p]) => {
    const present = Object.hasOwn(obj, k);
    if (Array.isArray(p)) return p.some((m) => matchLeaf(m, present, obj[k]));
    return isObject(p) && present && matchesPattern(p, obj[k]);
  });
}

/** Whether the record passes the filters: no filters, or any one matches. */
export function passesFilters(filters: readonly FilterPattern[], r: KafkaEventRecord): boolean {
  if (filters.length === 0) return true;
  const view = filterView(r);
  return filters.some((f) => matchesPattern(f, view));
}
