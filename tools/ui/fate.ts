/** Where a Kafka record went: pure decisions over what Kafka and the stores say, and how bytes read. */
import { decodeUtf8 } from '../../lib/event/decode';
import type { DeadLetterRecord, StoredRecord } from '../../lib/sink/inspect';

/** A record's fate, as the Records page shows it. */
export type FateKind =
  'stored' | 'postgres-only' | 'mongo-only' | 'dead-letter' | 'tombstone' | 'not-consumed' | 'missing';

/** What the stores hold for one record's coordinates. */
export interface Found {
  postgres?: StoredRecord;
  mongo?: StoredRecord;
  deadLetter?: DeadLetterRecord;
}

/**
 * The fate of the record at `offset`: what the stores hold decides first (a record is written
 * before its offset is committed); with nothing stored, an offset at or past the group's committed
 * offset (-1: none) is not yet consumed, and a consumed one is a skipped tombstone or missing.
 */
export function fateOf(offset: number, isTombstone: boolean, found: Found, committed: number): FateKind {
  if (found.deadLetter) return 'dead-letter';
  if (found.postgres && found.mongo) return 'stored';
  if (found.postgres) return 'postgres-only';
  if (found.mongo) return 'mongo-only';
  if (committed < 0 || offset >= committed) return 'not-consumed';
  return isTombstone ? 'tombstone' : 'missing';
}

/** How the page says each fate. */
export const FATE_LABEL: Record<FateKind, string> = {
  stored: 'Postgres row + Mongo document',
  'postgres-only': 'Postgres row only (missing from Mongo)',
  'mongo-only': 'Mongo document only (missing from Postgres)',
  'dead-letter': 'dead letter',
  tombstone: 'tombstone: consumed, nothing stored',
  'not-consumed': 'not yet consumed',
  missing: 'consumed, in no store (deleted by a later tombstone?)',
};

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
