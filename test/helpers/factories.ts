/** The test data every suite builds the same way: the recorded fixtures and quote values. */
import { readFileSync } from 'node:fs';
import path from 'node:path';

/** A recorded event from test/fixtures (`msk-event.json`, `self-managed-event.json`), parsed afresh each call. */
export const fixture = (name: string) => JSON.parse(readFileSync(path.join(__dirname, '..', 'fixtures', name), 'utf8'));

/** Quote `i` as a record value: `Quote <i>` by Homer Simpson, with any field replaced or added by `fields`. */
export const quote = (i: number, fields: Record<string, unknown> = {}): string =>
  JSON.stringify({ quote: `Quote ${i}`, character: 'Homer Simpson', ...fields });
