/**
 * `npm run doctor` packages every deploy variant of serverless.yml (trigger × scaling ×
 * destination, with the stage's params) and applies AWS's rules for Kafka mappings
 * (lib/deploy/mapping-rules.ts) to each packaged mapping: one line per violation, exit 1 if any.
 * `--template FILE` checks one packaged template instead; `--lint` runs cfn-lint on them too.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { QuotesSinkError } from '../lib/errors';
import { findCfnLint, runCfnLint } from '../lib/deploy/cfn-lint';
import { checkTemplate, type CfnTemplate } from '../lib/deploy/template';
import { deployVariants, packageVariants, type PackageResult } from '../lib/deploy/variants';

const USAGE = `usage: npm run doctor -- [options]

Packages each deploy variant of serverless.yml and checks its Kafka event source mappings against
AWS's rules (lib/deploy/mapping-rules.ts). One line per violation; exit 1 if there is any.

  --stage NAME        stage whose params apply (default: ci)
  --param KEY=VALUE   a param for every variant (repeatable); fixing trigger, scaling or
                      destination checks only the matching variants
  --template FILE     check this packaged template instead of packaging (repeatable)
  --lint              also run cfn-lint on each template (fails on any finding)
  --keep DIR          package into DIR and keep it (default: a temporary folder, removed)
  --concurrency N     packages at once (default: the number of CPUs)
  --help, -h          this text`;

/** A usage mistake: one line on stderr, exit 2. */
class UsageError extends QuotesSinkError {}

interface Options {
  stage: string;
  params: Record<string, string>;
  templates: string[];
  lint: boolean;
  keep?: string;
  concurrency: number;
}

/** node:util's parseArgs, with its errors (unknown option, missing value) as usage errors. */
function parseCommandLine(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      options: {
        stage: { type: 'string', default: 'ci' },
        param: { type: 'string', multiple: true, default: [] },
        template: { type: 'string', multiple: true, default: [] },
        lint: { type: 'boolean', default: false },
        keep: { type: 'string' },
        concurrency: { type: 'string', default: String(availableParallelism()) },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message, { cause: e });
  }
}

function parseOptions(argv: string[]): Options | undefined {
  const { values } = parseCommandLine(argv);
  if (values.help) return undefined;
  const params: Record<string, string> = {};
  for (const p of values.param) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new UsageError(`--param takes KEY=VALUE, got "${p}"`);
    params[p.slice(0, eq)] = p.slice(eq + 1);
  }
  const concurrency = Number(values.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new UsageError('--concurrency takes a positive integer');
  return { stage: values.stage, params, templates: values.template, lint: values.lint, keep: values.keep, concurrency };
}

/** Prints one variant's verdict, its violations (one line each) and notes; returns the violation count. */
function report(name: string, template: CfnTemplate): number {
  const mappings = checkTemplate(template);
  const violations = mappings.flatMap((m) =>
    m.violations.map((v) => `${m.logicalId}: [${v.rule}] ${v.message} (${v.source})`),
  );
  const notes = [...new Set(mappings.flatMap((m) => m.notes))];
  const what = mappings.length === 1 ? '1 mapping' : `${mappings.length} mappings`;
  console.log(`${violations.length ? 'FAIL' : 'ok  '} ${name} (${what})`);
  for (const line of violations) console.log(`  ✗ ${line}`);
  for (const note of notes) console.log(`  note: ${note}`);
  return violations.length;
}

/** Lints the templates; prints each finding; returns how many there were. */
function lint(files: string[]): number {
  const command = findCfnLint();
  const result = runCfnLint(files, command);
  for (const f of result.findings) console.log(`  cfn-lint: ${f}`);
  if (result.status !== 0 && result.findings.length === 0) {
    throw new QuotesSinkError(`cfn-lint failed (exit ${result.status}): ${result.stderr.trim()}`);
  }
  console.log(`cfn-lint ${command.version}: ${result.findings.length} finding(s) in ${files.length} template(s)`);
  return result.findings.length;
}

/** Reports one packaging result; returns its problem count (a failed package is one). */
function reportPackaged(r: PackageResult): number {
  if (!r.ok || !r.template) {
    console.log(`FAIL ${r.variant.name}: serverless package failed\n${r.output.trim().replace(/^/gm, '  | ')}`);
    return 1;
  }
  return report(r.variant.name, r.template);
}

/** Packages the variants, checks (and lints) them, then removes the folder unless asked to keep it. */
async function checkVariants(o: Options): Promise<number> {
  const root = o.keep ? path.resolve(o.keep) : mkdtempSync(path.join(tmpdir(), 'quotes-sink-doctor-'));
  const variants = deployVariants(o.params);
  console.log(`packaging ${variants.length} variant(s) for stage ${o.stage} into ${root} …`);
  try {
    const results = await packageVariants(variants, root, o.stage, o.concurrency);
    let problems = results.reduce((n, r) => n + reportPackaged(r), 0);
    const files = results.flatMap((r) => (r.templateFile ? [r.templateFile] : []));
    if (o.lint && files.length) problems += lint(files);
    return problems;
  } finally {
    if (!o.keep) rmSync(root, { recursive: true, force: true });
  }
}

/** Checks (and lints) templates packaged earlier. */
function checkTemplates(o: Options): number {
  let problems = 0;
  for (const file of o.templates) problems += report(file, JSON.parse(readFileSync(file, 'utf8')) as CfnTemplate);
  return o.lint ? problems + lint(o.templates) : problems;
}

async function main(argv: string[]): Promise<number> {
  const o = parseOptions(argv);
  if (!o) return (console.log(USAGE), 0);
  const problems = o.templates.length ? checkTemplates(o) : await checkVariants(o);
  console.log(problems ? `${problems} problem(s)` : 'no problems');
  return problems ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: Error) => {
    // A usage mistake is one line (exit 2; --help has the rest); anything else is a failure (exit 1).
    console.error(`doctor: ${e.message}${e instanceof UsageError ? '; see --help' : ''}`);
    process.exit(e instanceof UsageError ? 2 : 1);
  },
);
