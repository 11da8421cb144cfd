/**
 * The Simpsons quote, as the quotes API sends it: `quote`, `character`, `image`, `characterDirection`.
 * The sink sinks quotes by the sink file's quotes route (sink.yaml, lib/routes/); this hand-written
 * type stays as the reference the route is tested against (the same DDL, rows, documents and
 * accepted values), and for the `Quote` type.
 */
import { z } from 'zod';
import type { RecordType } from '../../lib/records/record-type';

const nonEmpty = z.string().refine((s) => s.trim().length > 0, 'must be a non-empty string');

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

export const quoteType: RecordType<Quote> = {
  name: 'quote',
  schema: quoteSchema,
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
