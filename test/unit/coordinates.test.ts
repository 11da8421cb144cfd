import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  PartitionRanges,
  formatCoordinates,
  parseCoordinates,
  partitionKey,
  recordId,
} from '../../lib/event/coordinates';

const c = { topic: 'quotes', partition: 2, offset: 42 };

test('record id, partition key and human form', () => {
  assert.equal(recordId(c), 'quotes-2-42');
  assert.equal(partitionKey(c), 'quotes-2');
  assert.equal(formatCoordinates(c), 'quotes/2/42');
});

test('the human form parses back, also for topics holding slashes and dashes', () => {
  assert.deepEqual(parseCoordinates('quotes/2/42'), c);
  assert.deepEqual(parseCoordinates('a/b-c/0/7'), { topic: 'a/b-c', partition: 0, offset: 7 });
  assert.equal(parseCoordinates('quotes-2-42'), undefined);
});

test('partition ranges track first, last and count per partition', () => {
  const r = PartitionRanges.of([
    { topic: 'quotes', partition: 0, offset: 5 },
    { topic: 'quotes', partition: 0, offset: 3 },
    { topic: 'quotes', partition: 1, offset: 9 },
  ]);
  assert.deepEqual(r.toJSON(), {
    'quotes-0': { first: 3, last: 5, count: 2 },
    'quotes-1': { first: 9, last: 9, count: 1 },
  });
  assert.equal(String(r), 'quotes-0@3..5, quotes-1@9..9');
  assert.equal(new PartitionRanges().empty, true);
});
