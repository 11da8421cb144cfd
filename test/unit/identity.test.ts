import assert from 'node:assert/strict';
import { hash } from 'node:crypto';
import { test } from 'node:test';
import type { StoredHeader } from '../../lib/event/decode';
import { fingerprint, type FingerprintInput } from '../../lib/event/identity';

/** The fingerprint as defined, spelled out: what rows, documents and dead letters already hold. */
function defined(r: FingerprintInput): string {
  const part = (h: StoredHeader) => {
    const name = h.nameBase64 !== undefined ? `b${h.nameBase64}` : `t${h.name}`;
    const value = h.value !== undefined ? `t${h.value}` : `b${h.valueBase64 ?? ''}`;
    return `|${name.length}:${name}${value.length}:${value}`;
  };
  const resent = new Set(['quotes-sink-identity', 'dead-letter-of', 'dead-letter-replay-id']);
  const headers = r.headers.filter((h) => h.nameBase64 !== undefined || !resent.has(h.name));
  const text = `${r.timestamp}|${r.keyBase64 ?? '~'}|${r.valueBase64 ?? '~'}${headers.map(part).join('')}`;
  return hash('sha256', text, 'base64url').slice(0, 22);
}

const b64 = (s: string) => Buffer.from(s).toString('base64');
const cases: [string, FingerprintInput][] = [
  [
    'a record',
    {
      timestamp: 1_700_000_000_000,
      keyBase64: b64('Homer'),
      valueBase64: b64('{"quote":"D\'oh"}'),
      headers: [{ name: 'source', value: 'api' }],
    },
  ],
  ['a tombstone without key or headers', { timestamp: 0, keyBase64: null, valueBase64: null, headers: [] }],
  ['a negative timestamp, no key', { timestamp: -1, valueBase64: b64('{}'), headers: [] }],
  [
    "headers in bytes, names out of band, text beyond ASCII, re-senders' headers",
    {
      timestamp: 42,
      keyBase64: b64('k'),
      valueBase64: b64('{"q":"é€😀"}'),
      headers: [
        { name: 'bin', valueBase64: '/w==' },
        { name: 'a\ufffdb', nameBase64: 'YQBi', value: 'x' },
        { name: 'empty', valueBase64: '' },
        { name: 'quotes-sink-identity', value: 'v1/…' },
        { name: 'dead-letter-of', value: 'quotes-0-1' },
        { name: 'text', value: 'ünïcode 😀 | 3:t' },
      ],
    },
  ],
  [
    'a value larger than the scratch space',
    { timestamp: 7, keyBase64: b64('k'), valueBase64: b64('x'.repeat(200_000)), headers: [{ name: 'h', value: 'v' }] },
  ],
];

test('the fingerprint is SHA-256 over the text its definition gives (it is stored: it must never change)', () => {
  for (const [what, r] of cases) assert.equal(fingerprint(r), defined(r), what);
  // Pinned: a change of definition would fail this even if both spellings above changed.
  assert.equal(fingerprint(cases[0][1]), 'fUUiA4cd5UEh4UZ6dOFKgC');
  assert.equal(fingerprint(cases[3][1]), 'yfDpmsVrGB7l3XozMwJfVB');
});
