/**
 * `npm run doctor` first checks every route of the sink file (SINK_FILE, default sink.yaml) as the
 * configuration runs it (tools/deploy/routes.ts: legal and distinct table and collection names, no
 * topic routed twice, no destination topic that is routed). It then packages every deploy variant of serverless.yml (trigger × scaling ×
 * destination, with the stage's params) and applies AWS's rules for Kafka mappings
 * (tools/deploy/mapping-rules.ts) to each packaged mapping: one line per violation, exit 1 if any.
 * `--template FILE` checks one packaged template instead; `--lint` runs cfn-lint on them too.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { defineCommand, intFlag, parseCommand } from '../tools/cli/args';
import { runMain } from '../tools/cli/main';
import { loadConfig, loadStackEnv, storesInUse } from '../lib/config';
import { routeTargets } from '../lib/routes/default';
import { reachable } from '../tools/cli/reachable';
import { storedSchemaProblems } from '../tools/routes/stored';
import { QuotesSinkError } from '../lib/errors';
import { findCfnLint, runCfnLint } from '../tools/deploy/cfn-lint';
import { checkRoutes, sinkFilePath } from '../tools/deploy/routes';
import { loadSinkFile } from '../tools/routes/load';
import { checkTemplate, type CfnTemplate } from '../tools/deploy/template';
import { deployVariants, packageVariants, type PackageResult } from '../tools/deploy/variants';

export const DOCTOR = defineCommand({
  command: 'npm run doctor --',
  summary: [
    'Checks every route of the sink file (SINK_FILE, default sink.yaml), then packages each deploy variant',
    "of serverless.yml and checks its Kafka event source mappings (one per route) against AWS's rules",
    '(tools/deploy/mapping-rules.ts). One line per violation; exit 1 if there is any, 2 for a bad sink file.',
  ].join('\n'),
  flags: {
    stage: { type: 'string', value: 'NAME', help: 'stage whose params apply (default: ci)' },
    param: {
      type: 'string',
      value: 'KEY=VALUE',
      multiple: true,
      help: 'a param for every variant',
    },
    template: {
      type: 'string',
      value: 'FILE',
      multiple: true,
      help: 'check this packaged template instead of packaging',
    },
    lint: { type: 'boolean', help: 'also run cfn-lint on each template (fails on any finding)' },
    stores: {
      type: 'boolean',
      help: "also compare the stores' tables and collections with the routes: a schema change the sink would refuse",
    },
    keep: { type: 'string', value: 'DIR', help: 'package into DIR and keep it (default: a temporary folder, removed)' },
    concurrency: { type: 'string', value: 'N', help: 'packages at once (default: the number of CPUs)' },
  },
  schema: z
    .object({
      stage: z.string().min(1).default('ci'),
      param: z.array(z.string().regex(/^[^=]+=/, 'takes KEY=VALUE')).default([]),
      template: z.array(z.string().min(1)).default([]),
      lint: z.boolean().default(false),
      stores: z.boolean().default(false),
      keep: z.string().min(1).optional(),
      concurrency: intFlag(1).default(String(availableParallelism())),
    })
    .strict(),
  notes: ['A --param that fixes trigger, scaling or destination checks only the matching variants.'],
});

export interface DoctorOptions {
  stage: string;
  params: Record<string, string>;
  templates: string[];
  lint: boolean;
  stores: boolean;
  keep?: string;
  concurrency: number;
}

/** The doctor's options from its command line (a UsageError or HelpRequested otherwise). */
export function parseDoctorOptions(argv: string[]): DoctorOptions {
  const o = parseCommand(DOCTOR, argv);
  const params: Record<string, string> = {};
  for (const p of o.param) {
    const eq = p.indexOf('=');
    params[p.slice(0, eq)] = p.slice(eq + 1);
  }
  const { stage, lint, stores, keep, concurrency } = o;
  return { stage, params, templates: o.template, lint, stores, keep, concurrency };
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

/**
 * Checks the routes of the sink file as the configuration (KAFKA_TOPIC, POSTGRES_QUOTES_TABLE,
 * MONGO_COLLECTION, the dead letters') runs them: one line per violation; returns their count. A
 * sink file that does not load throws its SinkFileError (one line per problem, exit 2).
 */
function checkSinkFile(o: DoctorOptions): number {
  const { file, routes } = loadSinkFile(sinkFilePath());
  const violations = checkRoutes(routes, loadConfig(), o.params.destinationTopic);
  const what = routes.length === 1 ? '1 route' : `${routes.length} routes`;
  console.log(`${violations.length ? 'FAIL' : 'ok  '} sink file ${file} (${what})`);
  for (const v of violations) console.log(`  ✗ ${file}: route ${v.route}: [${v.rule}] ${v.message}`);
  return violations.length;
}

/**
 * Compares every route's table and collection with its schema as the sink would at start: one
 * line per change it would refuse (a type change, a removed or renamed property, a new required
 * one); returns their count. Changes nothing.
 */
async function checkStores(): Promise<number> {
  loadStackEnv();
  const config = loadConfig();
  await reachable(config, storesInUse(config));
  const problems = await storedSchemaProblems(config, routeTargets(config));
  console.log(`${problems.length ? 'FAIL' : 'ok  '} stores against the routes' schemas`);
  for (const p of problems) console.log(`  ✗ ${p}`);
  return problems.length;
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
async function checkVariants(o: DoctorOptions): Promise<number> {
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
function checkTemplates(o: DoctorOptions): number {
  let problems = 0;
  for (const file of o.templates) problems += report(file, JSON.parse(readFileSync(file, 'utf8')) as CfnTemplate);
  return o.lint ? problems + lint(o.templates) : problems;
}

async function main(argv: string[]): Promise<number> {
  const o = parseDoctorOptions(argv);
  let problems = checkSinkFile(o);
  if (o.stores) problems += await checkStores();
  problems += o.templates.length ? checkTemplates(o) : await checkVariants(o);
  console.log(problems ? `${problems} problem(s)` : 'no problems');
  return problems ? 1 : 0;
}

if (require.main === module) runMain('doctor', main);
