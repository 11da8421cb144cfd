/** The pure part of schema evolution (lib/sink/evolve.ts): what may change, and a stored value split again. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { columnChanges, fieldChanges, fitsColumn, resplit } from '../../lib/sink/evolve';

const table = [
  { name: 'id', type: 'bigint' },
  { name: 'name', type: 'text' },
];

test('a new optional column is added; an empty table is not evolved', () => {
  const wanted = [
    { name: 'id', sqlType: 'bigint' as const, property: 'id', required: true },
    { name: 'name', sqlType: 'text' as const, property: 'name' },
    { name: 'color', sqlType: 'text' as const, property: 'color' },
  ];
  assert.deepEqual(columnChanges('items', wanted, table), { added: [wanted[2]], problems: [] });
  assert.deepEqual(columnChanges('items', wanted, []), { added: [], problems: [] });
});

test('type changes, removed columns and new required properties are named, route and property', () => {
  const wanted = [
    { name: 'id', sqlType: 'text' as const, property: 'id' },
    { name: 'size', sqlType: 'bigint' as const, property: 'size', required: true },
  ];
  assert.deepEqual(columnChanges('items', wanted, table).problems, [
    'route items: property id (column id) is bigint in the table, the schema makes it text',
    'route items: property size (column size) is new and required: the records stored before lack it',
    'route items: column name is in the table but not in the schema (removed or renamed?)',
  ]);
});

test('fields: new ones are moved, one no longer a text field is refused, unknown means all', () => {
  assert.deepEqual(fieldChanges('r', ['a', 'b'], ['a']), { added: ['b'], problems: [] });
  assert.deepEqual(fieldChanges('r', ['a', 'b'], undefined), { added: ['a', 'b'], problems: [] });
  assert.deepEqual(fieldChanges('r', ['b'], ['a']).problems, [
    'route r: field a of the stored documents is not a text field of the schema any more',
  ]);
});

test('a stored value split again: the same text, the new field out of extra, raw where the order says so', () => {
  assert.deepEqual(resplit(['name', 'color'], { fields: { name: 'x' }, extra: { id: 1, color: 'red' } }).parts, {
    fields: { name: 'x', color: 'red' },
    raw: '{"name":"x","id":1,"color":"red"}',
  });
  assert.deepEqual(resplit(['name', 'color'], { fields: { name: 'x' }, extra: { color: 'red', id: 1 } }).parts, {
    fields: { name: 'x', color: 'red' },
    extra: { id: 1 },
  });
  const raw = '\ufeff{ "color": "red" }';
  assert.deepEqual(resplit(['color'], { fields: {}, raw }).parts, { fields: { color: 'red' }, raw });
});

test('what a column can hold as it is', () => {
  assert.equal(fitsColumn('bigint', 7), true);
  assert.equal(fitsColumn('bigint', 1.5), false);
  assert.equal(fitsColumn('integer', 2 ** 31), false);
  assert.equal(fitsColumn('timestamptz', '2026-12-04T10:00:00Z'), true);
  assert.equal(fitsColumn('timestamptz', 'soon'), false);
  assert.equal(fitsColumn('jsonb', [1]), true);
  assert.equal(fitsColumn('text', 3), false);
});
