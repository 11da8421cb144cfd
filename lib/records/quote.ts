/**
 * The Simpsons quote, as the quotes API sends it: `quote`, `character`, `image`,
 * `characterDirection`, and whatever else it adds (kept). Its schema is the sink file's `quotes`
 * route (schemas/quotes.schema.json); test/helpers/quote-reference.ts keeps the hand-written
 * type the route is tested against.
 */
export interface Quote {
  quote: string;
  character: string;
  image?: string | null;
  characterDirection?: string | null;
  [field: string]: unknown;
}
