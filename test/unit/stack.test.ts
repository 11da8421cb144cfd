/** Pure parts of the native stack. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newClusterId } from '../../lib/stack/kafka';

test('KRaft cluster ids are 16 random bytes in base64url, and none starts with "-" (StorageTool would take it for an option)', () => {
  const ids = new Set<string>();
  // About 1 in 64 raw ids starts with '-': 5,000 draws meet ~78 of them.
  for (let i = 0; i < 5_000; i++) {
    const id = newClusterId();
    assert.ok(!id.startsWith('-'), id);
    assert.equal(Buffer.from(id, 'base64url').length, 16);
    ids.add(id);
  }
  assert.equal(ids.size, 5_000);
});
