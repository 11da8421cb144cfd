/** How a chunk is split into slices written at once, each on a pooled connection of its own (pure). */

/**
 * Records below which a write is one slice: smaller ones cost more per statement than they gain
 * (FerretDB most). A chunk of the default 500 is one slice; two chunks are in flight at once.
 */
export const MIN_SLICE = 500;

/**
 * `[from, to)` bounds of at most `max` slices of `n` records, in order and covering each record
 * once; none under {@link MIN_SLICE} unless it is the only one.
 */
export function sliceBounds(n: number, max: number): [number, number][] {
  const count = Math.max(1, Math.min(max, Math.floor(n / MIN_SLICE)));
  const size = Math.ceil(n / count);
  const out: [number, number][] = [];
  for (let from = 0; from < n; from += size) out.push([from, Math.min(n, from + size)]);
  return out;
}
