/**
 * The deploy variants of serverless.yml (trigger × scaling × destination) and packaging them with
 * `serverless package`, each into its own folder so several can run at once. Used by
 * `npm run doctor` and by the serverless integration test.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { QuotesSinkError } from '../../lib/errors';
import { DESTINATIONS, SCALING_MODES } from './params';
import type { CfnTemplate } from './template';

/** The project root (this file lives in tools/deploy/). */
export const PROJECT_ROOT = path.resolve(__dirname, '..', '..');
export const SERVERLESS_BIN = path.join(PROJECT_ROOT, 'node_modules', '.bin', 'serverless');
export const TRIGGERS = ['none', 'kafka', 'msk', 'both'] as const;

export interface Variant {
  /** e.g. `msk-provisioned-s3`, or `none` (no mapping, so scaling and destination do not apply). */
  name: string;
  params: Record<string, string>;
  /** Environment for `serverless package` beside this process's, e.g. SINK_FILE (the routes' mappings). */
  env?: Record<string, string>;
}

/**
 * Every variant, or those matching the variant keys fixed in `fixed` (other fixed params are added
 * to each variant). Trigger `none` has no mapping, so it is one variant.
 */
export function deployVariants(fixed: Record<string, string> = {}): Variant[] {
  const pick = (key: string, all: readonly string[]) => (fixed[key] !== undefined ? [fixed[key]] : [...all]);
  const variants: Variant[] = [];
  for (const trigger of pick('trigger', TRIGGERS)) {
    if (trigger === 'none') {
      variants.push({ name: 'none', params: { ...fixed, trigger } });
      continue;
    }
    for (const scaling of pick('scaling', SCALING_MODES)) {
      for (const destination of pick('destination', DESTINATIONS)) {
        const name = `${trigger}-${scaling}-${destination}`;
        variants.push({ name, params: { ...fixed, trigger, scaling, destination } });
      }
    }
  }
  return variants;
}

/** `--param=k=v` arguments for the framework. */
export const paramArgs = (params: Record<string, string>) =>
  Object.entries(params).map(([k, v]) => `--param=${k}=${v}`);

/** What packaging one variant produced. */
export interface PackageResult {
  variant: Variant;
  dir: string;
  ok: boolean;
  /** The framework's output (stdout and stderr), for failures. */
  output: string;
  /** cloudformation-template-update-stack.json, when packaging succeeded. */
  templateFile?: string;
  template?: CfnTemplate;
}

/** `serverless package` fails, or writes no template, for a reason other than the variant itself. */
export class PackagingError extends QuotesSinkError {}

/** What a service folder needs besides serverless.yml: the plugin's code, the bundle, the framework. */
const SERVICE_LINKS = ['package.json', 'lib', 'tools', 'dist', 'node_modules'];

/**
 * A private service folder for one `serverless package` run: a copy of serverless.yml (the
 * framework wants a regular file) beside links to the project. The framework writes everything into
 * `<service>/.serverless/` first and empties it at start, so runs sharing one folder (even with
 * `--package` elsewhere) overwrite each other's files.
 */
export function serviceFolder(dir: string): string {
  mkdirSync(dir, { recursive: true });
  copyFileSync(path.join(PROJECT_ROOT, 'serverless.yml'), path.join(dir, 'serverless.yml'));
  for (const name of SERVICE_LINKS) symlinkSync(path.join(PROJECT_ROOT, name), path.join(dir, name));
  return dir;
}

/** Runs `serverless package` for one variant into `dir` (never throws for a failed package). */
export function packageVariant(
  variant: Variant,
  dir: string,
  stage: string,
  timeoutMs = 180_000,
): Promise<PackageResult> {
  const args = ['package', '--stage', stage, ...paramArgs(variant.params), '--package', dir];
  const cwd = serviceFolder(`${dir}.service`);
  return new Promise((resolve, reject) => {
    const env = { ...process.env, ...variant.env };
    const child = spawn(SERVERLESS_BIN, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const collect = (d: Buffer) => (output += d.toString());
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (e) => reject(new PackagingError(`cannot run ${SERVERLESS_BIN}: ${e.message}`, { cause: e })));
    child.once('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) return resolve({ variant, dir, ok: false, output });
      const templateFile = path.join(dir, 'cloudformation-template-update-stack.json');
      try {
        const template = JSON.parse(readFileSync(templateFile, 'utf8')) as CfnTemplate;
        resolve({ variant, dir, ok: true, output, templateFile, template });
      } catch (e) {
        reject(new PackagingError(`${variant.name}: packaged, but ${templateFile} is unreadable`, { cause: e }));
      }
    });
  });
}

/** Runs `fn` over `items`, at most `limit` at a time, keeping the order of `items` in the results. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}

/**
 * Packages `variants` into `root/<variant name>`, `concurrency` at a time, each from its own
 * service folder ({@link serviceFolder}). The first one zips the function; the others reuse that
 * zip as `--param=artifact=…` (the code is the same in every variant, and zipping is the slow part).
 */
export async function packageVariants(
  variants: readonly Variant[],
  root: string,
  stage: string,
  concurrency: number,
): Promise<PackageResult[]> {
  if (variants.length === 0) return [];
  const [first, ...rest] = variants;
  const zipped = await packageVariant(first, path.join(root, first.name), stage);
  const artifact = path.join(zipped.dir, 'quotes-sink.zip');
  const withArtifact = (v: Variant): Variant =>
    zipped.ok && v.params.artifact === undefined ? { ...v, params: { ...v.params, artifact } } : v;
  // Results name the variant as asked (without the artifact param).
  const others = await mapLimit(rest, zipped.ok ? concurrency : 1, async (v) => ({
    ...(await packageVariant(withArtifact(v), path.join(root, v.name), stage)),
    variant: v,
  }));
  return [zipped, ...others];
}
