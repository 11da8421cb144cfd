/** The emulator's positions: when a committed offset being gone means a re-created topic. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Positions } from '../../tools/emulator/positions';

const marks = [{ partition: 0, low: 0, high: 10 }];

test('a committed offset that is gone (-1) means the topic was re-created', () => {
  const p = new Positions(new Map([[0, 10]]));
  assert.deepEqual(p.recreated(marks, new Map([[0, -1]])), marks);
});

test('a reset mark of kafkajs (-2, after retention deleted our offset) is no re-creation', () => {
  const p = new Positions(new Map([[0, 5]]));
  assert.deepEqual(p.recreated([{ partition: 0, low: 8, high: 10 }], new Map([[0, -2]])), []);
});

test('offsets read before the partition moved do not show its first commit: not a re-creation', () => {
  const p = new Positions();
  const readAt = p.mark();
  p.advance(0, 4); // committed while the offsets were being read
  assert.deepEqual(p.recreated(marks, new Map([[0, -1]]), undefined, readAt), []);
  assert.deepEqual(p.recreated(marks, new Map([[0, -1]]), undefined, p.mark()), marks, 'read after it: gone');
});
