/**
 * Cold start, as far as it can be measured here: the bundle `npm run build` makes (built into a
 * temporary folder, so dist/ is left alone), the size of the zip `serverless package` would make of
 * it, and the time a fresh `node` takes to `require` it against a bare `node -e ""`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { deflateRawSync } from 'node:zlib';
import { build } from 'esbuild';
import { parse } from 'yaml';
import { PROJECT_ROOT } from '../lib/config';
import { BUNDLE_OPTIONS } from '../tools/bundle';

/** Fresh processes per figure; the report shows their median. */
export const COLD_START_RUNS = 10;

/** What {@link measureColdStart} returns. */
export interface ColdStartSample {
  bundleBytes: number;
  /** The source map beside the bundle (0 when the build writes none). */
  mapBytes: number;
  /** The files serverless.yml packages, and the zip they make (deflate, level 9, with zip headers). */
  zipFiles: string[];
  zipBytes: number;
  /** Wall time of `node -e "require(bundle)"`, one per fresh process. */
  requireMs: number[];
  /**
   * Wall time of `require` and a first call with an empty event, one per fresh process: the
   * container's config, logger and store clients (drivers loaded, no connection), what a cold
   * start pays before its first batch.
   */
  firstCallMs: number[];
  /** Wall time of `node -e ""`, one per fresh process. */
  bareMs: number[];
}

/** The files `package.patterns` of serverless.yml names (the positive `dist/...` entries). */
function packagedFiles(): string[] {
  const yml = parse(readFileSync(path.join(PROJECT_ROOT, 'serverless.yml'), 'utf8')) as {
    package?: { patterns?: string[] };
  };
  return (yml.package?.patterns ?? []).filter((p) => p.startsWith('dist/') && !p.includes('*'));
}

/** The size of a zip of `files` (rel → absolute path): deflated data plus the local and central headers. */
function zipSize(files: { name: string; file: string }[]): number {
  let bytes = 22; // end of central directory
  for (const f of files) {
    const data = deflateRawSync(readFileSync(f.file), { level: 9 });
    bytes += 30 + f.name.length + data.length + 46 + f.name.length;
  }
  return bytes;
}

/** Wall time of one fresh `node -e code`, with no NODE_OPTIONS (the bench's own flags stay out). */
function timeNode(code: string): number {
  const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'silent' };
  delete env.NODE_OPTIONS;
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ['-e', code], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`node -e ${code} failed: ${r.stderr.toString().slice(0, 500)}`);
  return ms;
}

/** Builds the bundle into a temporary folder and measures it; the folder is removed afterwards. */
export async function measureColdStart(runs = COLD_START_RUNS): Promise<ColdStartSample> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'quotes-sink-bundle-'));
  try {
    const outfile = path.join(dir, 'sink.js');
    await build({ ...BUNDLE_OPTIONS, outfile, logLevel: 'silent' });
    const size = (f: string) => (existsSync(f) ? statSync(f).size : 0);
    const zipFiles = packagedFiles().filter((p) => existsSync(path.join(dir, path.basename(p))));
    const zipBytes = zipSize(zipFiles.map((p) => ({ name: p, file: path.join(dir, path.basename(p)) })));
    const requireMs: number[] = [];
    const firstCallMs: number[] = [];
    const bareMs: number[] = [];
    const bundle = JSON.stringify(outfile);
    timeNode(''); // warm the file cache before timing
    for (let i = 0; i < runs; i++) {
      // Interleaved, so a noisy moment costs all alike.
      bareMs.push(timeNode(''));
      requireMs.push(timeNode(`require(${bundle})`));
      firstCallMs.push(timeNode(`require(${bundle}).handler({}).catch(() => undefined)`));
    }
    const sizes = { bundleBytes: size(outfile), mapBytes: size(`${outfile}.map`), zipFiles, zipBytes };
    return { ...sizes, requireMs, firstCallMs, bareMs };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
