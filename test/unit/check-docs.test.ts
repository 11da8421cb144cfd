/** The docs check of `npm run lint` (scripts/check-docs.ts), on a folder of its own. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { anchorOf, checkDocs } from '../../scripts/check-docs';

const long = (n: number) => 'x'.repeat(n);

function project(files: Record<string, string>): string {
  const root = mkdtempSync(path.join(tmpdir(), 'check-docs-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    writeFileSync(path.join(root, name), text);
  }
  return root;
}

describe('check-docs', () => {
  const roots: string[] = [];
  after(() => roots.forEach((r) => rmSync(r, { recursive: true, force: true })));
  const make = (files: Record<string, string>) => {
    const root = project(files);
    roots.push(root);
    return root;
  };

  test('a clean project has no problem', () => {
    const root = make({
      'README.md': '# Title\n\nSee [the sink](docs/sink.md#the-write) and [home](https://example.com).\n',
      'docs/sink.md': '# The sink\n\n## The write\n\nBack to [the README](../README.md).\n',
    });
    assert.deepEqual(checkDocs(root), []);
  });

  test('a line over 120 characters fails, one line naming file, line and length', () => {
    const root = make({ 'README.md': `# T\n\n${long(120)}\n${long(121)}\n`, 'docs/a.md': `${long(130)}\n` });
    assert.deepEqual(checkDocs(root), [
      'README.md:4: 121 characters (at most 120)',
      'docs/a.md:1: 130 characters (at most 120)',
    ]);
  });

  test('a long line inside a fenced code block is fine', () => {
    const root = make({ 'docs/a.md': `text\n\n\`\`\`sh\n${long(300)}\n\`\`\`\n\n~~~\n${long(200)}\n~~~\nafter\n` });
    assert.deepEqual(checkDocs(root), []);
  });

  test('a relative link to a missing file or heading fails; links in code spans do not count', () => {
    const root = make({
      'README.md': [
        '# T',
        '[gone](docs/missing.md) and [image](docs/none.png)',
        '[no heading](docs/a.md#nowhere) [here](#t)',
        '`[not a link](nowhere.md)`',
        '',
      ].join('\n'),
      'docs/a.md': '# A\n',
    });
    assert.deepEqual(checkDocs(root), [
      'README.md:2: link to docs/missing.md: docs/missing.md does not exist',
      'README.md:2: link to docs/none.png: docs/none.png does not exist',
      'README.md:3: link to docs/a.md#nowhere: no heading #nowhere in docs/a.md',
    ]);
  });

  test('anchors follow GitHub: lower case, punctuation dropped, spaces to hyphens', () => {
    assert.equal(anchorOf('The stack: `npm run stack`'), 'the-stack-npm-run-stack');
    assert.equal(anchorOf('When a batch fails in AWS'), 'when-a-batch-fails-in-aws');
  });
});
