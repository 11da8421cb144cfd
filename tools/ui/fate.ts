/** Where a Kafka record went: pure decisions over what Kafka and the stores say, and how bytes read. */
import { decodeUtf8 } from '../../lib/event/decode';
import type { DeadLetterRecord, StoredRecord } from '../../lib/sink/inspect';
import type { StoreName } from '../../lib/sink/port';

/**
 * A record's fate, as the Records page shows it: `stored` in every record store, `NAME-only` in
 * that one store alone, `partial` in several but not all (three stores or more), or in none.
 */
export type FateKind =
  'stored' | `${StoreName}-only` | 'partial' | 'dead-letter' | 'tombstone' | 'not-consumed' | 'missing';

/** What the stores hold for one record's coordinates: each record store by name (undefined: none). */
export interface Found {
  stored: Readonly<Record<StoreName, StoredRecord | undefined>>;
  deadLetter?: DeadLetterRecord;
}

/**
 * The fate of the record at `offset`: what the stores hold decides first (a record is written
 * before its offset is committed); with nothing stored, an offset at or past the group's committed
 * offset (-1: none) is not yet consumed, and a consumed one is a skipped tombstone or missing.
 */
export function fateOf(offset: number, isTombstone: boolean, found: Found, committed: number): FateKind {
  if (found.deadLetter) return 'dead-letter';
  const entries = Object.entries(found.stored);
  const holders = entries.filter(([, s]) => s !== undefined).map(([name]) => name);
  if (holders.length > 0 && holders.length === entries.length) return 'stored';
  if (holders.length === 1) return `${holders[0]}-only`;
  if (holders.length > 1) return 'partial';
  if (committed < 0 || offset >= committed) return 'not-consumed';
  return isTombstone ? 'tombstone' : 'missing';
}

/** How the pages name a record store: its label, and what one record is kept as there. */
export interface StoreLabel {
  name: StoreName;
  /** e.g. `Postgres`. */
  label: string;
  /** e.g. `row`, `document`. */
  unit: string;
}

/** `Postgres row`: what a store keeps of one record. */
export const storedAs = (s: StoreLabel): string => `${s.label} ${s.unit}`;

const OTHER_FATES: Record<string, string> = {
  'dead-letter': 'dead letter',
  tombstone: 'tombstone: consumed, nothing stored',
  'not-consumed': 'not yet consumed',
  missing: 'consumed, in no store (deleted by a later tombstone?)',
};

/** How the page says a fate, naming the stores (`stores`: every record store, in order). */
export function fateLabel(kind: FateKind, stores: readonly StoreLabel[], found: Found): string {
  if (kind === 'stored') return stores.map(storedAs).join(' + ');
  const holders = stores.filter((s) => found.stored[s.name] !== undefined);
  const lacking = stores.filter((s) => found.stored[s.name] === undefined).map((s) => s.label);
  if (kind === 'partial' || (kind.endsWith('-only') && holders.length === 1))
    return `${holders.map(storedAs).join(' + ')} only (missing from ${lacking.join(', ')})`;
  return OTHER_FATES[kind] ?? kind;
}

/** Bytes as the page shows them: pretty JSON, text, or a binary note with base64. */
export type Shown =
  { as: 'json' | 'text'; text: string } | { as: 'binary'; text: string; bytes: number } | { as: 'none' };

/** Reads `bytes` for display: JSON pretty-printed when it parses, else UTF-8 text, else base64. */
export function show(bytes: Buffer | null): Shown {
  if (bytes === null) return { as: 'none' };
  const text = decodeUtf8(bytes);
  if (text === undefined) return { as: 'binary', text: bytes.toString('base64'), bytes: bytes.length };
  try {
    return { as: 'json', text: JSON.stringify(JSON.parse(text), null, 2) };
  } catch {
    return { as: 'text', text };
  }
}

/** `[3, 4, 5, 9]` → `3..5, 9`: long offset lists, short. */
export function offsetRanges(offsets: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < offsets.length;) {
    let j = i;
    while (j + 1 < offsets.length && offsets[j + 1] === offsets[j] + 1) j++;
    parts.push(j === i ? `${offsets[i]}` : `${offsets[i]}..${offsets[j]}`);
    i = j + 1;
  }
  return parts.join(', ');
}
