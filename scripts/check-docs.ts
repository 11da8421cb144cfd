/**
 * The docs check of `npm run lint`: in README.md and docs/*.md, no line outside a fenced code block
 * is longer than 120 characters, and every relative link `[text](path)` or `[text](path#anchor)`
 * points to a file that exists (and, for a markdown file, to a heading that exists). One line per
 * problem (`file:line: ...`), exit 1 if there is any.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

export const MAX_LINE = 120;

/** README.md and docs/*.md under `root`, relative to it. */
export function docFiles(root: string): string[] {
  const files = existsSync(path.join(root, 'README.md')) ? ['README.md'] : [];
  const docs = path.join(root, 'docs');
  if (existsSync(docs)) {
    for (const name of readdirSync(docs).sort()) if (name.endsWith('.md')) files.push(path.join('docs', name));
  }
  return files;
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens. */
export function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** The lines of `text` with whether each is inside a fenced code block (the fences count as inside). */
function classify(text: string): { line: string; code: boolean }[] {
  let fence: string | undefined;
  return text.split('\n').map((line) => {
    const m = /^\s*(`{3,}|~{3,})/.exec(line);
    if (fence === undefined && m) {
      fence = m[1];
      return { line, code: true };
    }
    if (fence !== undefined) {
      if (m && m[1][0] === fence[0] && m[1].length >= fence.length && line.trim() === m[1]) fence = undefined;
      return { line, code: true };
    }
    return { line, code: false };
  });
}

/** The anchors of a markdown file's headings (a repeated heading gets -1, -2, … as on GitHub). */
function anchorsOf(file: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const { line, code } of classify(readFileSync(file, 'utf8'))) {
    const m = !code && /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = anchorOf(m[1]);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

/** What is wrong with one relative link target, or undefined. */
function linkProblem(root: string, file: string, target: string): string | undefined {
  const [rawPath, anchor] = target.split('#', 2) as [string, string | undefined];
  const decoded = decodeURIComponent(rawPath);
  const resolved = decoded === '' ? path.join(root, file) : path.resolve(path.join(root, path.dirname(file)), decoded);
  if (!existsSync(resolved)) return `link to ${target}: ${decoded} does not exist`;
  if (anchor && resolved.endsWith('.md') && statSync(resolved).isFile() && !anchorsOf(resolved).has(anchor)) {
    return `link to ${target}: no heading #${anchor} in ${path.relative(root, resolved)}`;
  }
  return undefined;
}

const LINK = /!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g;
const EXTERNAL = /^(?:[a-z][a-z0-9+.-]*:|\/\/)/i;

/** Every problem of one file (relative to `root`), one line each. */
export function checkFile(root: string, file: string): string[] {
  const problems: string[] = [];
  classify(readFileSync(path.join(root, file), 'utf8')).forEach(({ line, code }, i) => {
    if (code) return;
    const where = `${file}:${i + 1}`;
    const length = [...line].length;
    if (length > MAX_LINE) problems.push(`${where}: ${length} characters (at most ${MAX_LINE})`);
    for (const m of line.replace(/`[^`]*`/g, '').matchAll(LINK)) {
      const target = m[1];
      if (EXTERNAL.test(target)) continue;
      const problem = linkProblem(root, file, target);
      if (problem) problems.push(`${where}: ${problem}`);
    }
  });
  return problems;
}

/** Every problem of README.md and docs/*.md under `root`. */
export function checkDocs(root: string): string[] {
  return docFiles(root).flatMap((file) => checkFile(root, file));
}

if (require.main === module) {
  const root = path.resolve(__dirname, '..');
  const problems = checkDocs(root);
  for (const p of problems) console.error(p);
  if (problems.length > 0) {
    console.error(`docs check: ${problems.length} problem(s)`);
    process.exit(1);
  }
}
