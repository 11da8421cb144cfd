/** The Simpsons quote, as the quotes API sends it: `quote`, `character`, `image`, `characterDirection`. */
import { z } from 'zod';
import type { RecordType } from './record-type';

const nonEmpty = z.string().refine((s) => s.trim().length > 0, 'must be a non-empty string');

/** Image URLs found valid lately: a character's picture comes with each of their quotes. */
const webUrls = new Set<string>();
/** Bounds {@link webUrls}: emptied when full. */
const WEB_URLS_KEPT = 1_000;

/** What the schema asks of `image`: a URL (it parses) and an http(s) one. */
const isWebUrl = (u: string): boolean => {
  if (webUrls.has(u)) return true;
  if (!/^https?:\/\//i.test(u)) return false;
  try {
    new URL(u);
  } catch {
    return false;
  }
  if (webUrls.size >= WEB_URLS_KEPT) webUrls.clear();
  webUrls.add(u);
  return true;
};

export const quoteSchema = z
  .object({
    quote: nonEmpty,
    character: nonEmpty,
    // Shown as a picture by whoever reads the store: only web URLs, never javascript:, data: or file:.
    image: z
      .string()
      .url('must be a URL')
      .refine((u) => /^https?:\/\//i.test(u), 'must be an http or https URL')
      .nullish(),
    characterDirection: z.string().nullish(),
  })
  .passthrough();

export type Quote = z.infer<typeof quoteSchema>;

const isText = (v: unknown): boolean => typeof v === 'string' && v.trim().length > 0;

/** The schema's conditions, checked without zod (a tenth of the time, no copy): see RecordType.accepts. */
function acceptsQuote(v: unknown): v is Quote {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const q = v as Record<string, unknown>;
  if (!isText(q.quote) || !isText(q.character)) return false;
  const image = q.image;
  if (image !== undefined && image !== null && (typeof image !== 'string' || !isWebUrl(image))) return false;
  const direction = q.characterDirection;
  return direction === undefined || direction === null || typeof direction === 'string';
}

export const quoteType: RecordType<Quote> = {
  name: 'quote',
  schema: quoteSchema,
  accepts: acceptsQuote,
  columns: [
    { name: 'quote', sqlType: 'text', notNull: true, field: 'quote', from: (q) => q.quote },
    { name: 'character', sqlType: 'text', notNull: true, field: 'character', from: (q) => q.character },
    { name: 'image', sqlType: 'text', field: 'image', from: (q) => q.image ?? null },
    {
      name: 'character_direction',
      sqlType: 'text',
      field: 'characterDirection',
      from: (q) => q.characterDirection ?? null,
    },
  ],
  indexes: [{ name: 'character', columns: ['character'], fields: ['character'] }],
};
