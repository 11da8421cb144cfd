/**
 * The emulator's settings from the deployed configuration: the Kafka mapping of a packaged template
 * (or of serverless.yml, packaged on the fly), checked against AWS's rules (tools/deploy/mapping-rules.ts)
 * and filled in with AWS's defaults, so that the emulator runs what AWS would run.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  checkMapping,
  effectiveMapping,
  settingsFromCloudFormation as settingsOf,
  type EffectiveMapping,
  type MappingSettings,
} from '../deploy/mapping-rules';
import { eventSourceMappings, type CfnTemplate } from '../deploy/template';
import { packageVariant, PROJECT_ROOT } from '../deploy/variants';
import { QuotesSinkError } from '../../lib/errors';
import { parseFilters, FilterPatternError, MAX_FILTERS, type FilterPattern } from './filter';

/** Where `serverless package` leaves the template. */
export const DEFAULT_TEMPLATE = path.join(PROJECT_ROOT, '.serverless', 'cloudformation-template-update-stack.json');

/** One Kafka mapping of a template, as the emulator reads it. */
export interface TemplateMapping {
  logicalId: string;
  settings: MappingSettings;
  /** FilterCriteria's patterns, as JSON strings. */
  filterPatterns: string[];
}

/** The mapping cannot be run: AWS would reject it, or the template holds none. `lines`: one per problem. */
export class MappingRejectedError extends QuotesSinkError {
  constructor(readonly lines: string[]) {
    super(lines.join('\n'));
  }
}

const patternsOf = (props: Record<string, unknown>): string[] => {
  const filters = (props.FilterCriteria as { Filters?: { Pattern?: unknown }[] } | undefined)?.Filters ?? [];
  return filters.map((f) => (typeof f.Pattern === 'string' ? f.Pattern : JSON.stringify(f.Pattern)));
};

/** The Kafka mappings of a template object. */
export function templateMappings(template: CfnTemplate): TemplateMapping[] {
  return eventSourceMappings(template)
    .filter(([, props]) => Array.isArray(props.Topics))
    .map(([logicalId, props]) => ({
      logicalId,
      settings: settingsOf(props),
      filterPatterns: patternsOf(props),
    }));
}

/**
 * The template at `file`: a packaged CloudFormation JSON, or serverless.yml packaged now for
 * `stage` with `params` (into a temporary folder, removed afterwards).
 */
export async function loadTemplate(
  file: string,
  stage = 'dev',
  params: Record<string, string> = {},
): Promise<CfnTemplate> {
  if (!existsSync(file))
    throw new MappingRejectedError([`template ${file} does not exist (package with \`npx serverless package\`)`]);
  if (!/\.ya?ml$/.test(file)) return JSON.parse(readFileSync(file, 'utf8')) as CfnTemplate;
  const dir = mkdtempSync(path.join(tmpdir(), 'quotes-sink-package-'));
  try {
    const r = await packageVariant({ name: 'local', params }, path.join(dir, 'pkg'), stage);
    if (!r.ok || !r.template)
      throw new MappingRejectedError([`serverless package failed:`, ...r.output.trim().split('\n').slice(-5)]);
    return r.template;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The mapping to run: the one of `source` if given and present, else the only or first one. */
export function pickMapping(mappings: TemplateMapping[], source?: MappingSettings['source']): TemplateMapping {
  if (mappings.length === 0)
    throw new MappingRejectedError(['the template has no Kafka event source mapping (trigger none?)']);
  return mappings.find((m) => m.settings.source === source) ?? mappings[0];
}

/** What the emulator runs: AWS's effective mapping and the parsed filters. */
export interface EmulatedMapping {
  logicalId: string;
  effective: EffectiveMapping;
  filters: FilterPattern[];
}

/**
 * Checks `m` as AWS would (one line per violation) and fills in AWS's defaults; throws
 * {@link MappingRejectedError} with every problem.
 */
export function emulatedMapping(m: TemplateMapping): EmulatedMapping {
  const lines = checkMapping(m.settings).map((v) => `${m.logicalId}: ${v.message} (${v.source})`);
  if (m.filterPatterns.length > MAX_FILTERS)
    lines.push(`${m.logicalId}: FilterCriteria has ${m.filterPatterns.length} filters; AWS allows ${MAX_FILTERS}`);
  let filters: FilterPattern[] = [];
  try {
    filters = parseFilters(m.filterPatterns);
  } catch (e) {
    if (!(e instanceof FilterPatternError)) throw e;
    lines.push(`${m.logicalId}: ${e.message}`);
  }
  if (lines.length) throw new MappingRejectedError(lines);
  return { logicalId: m.logicalId, effective: effectiveMapping(m.settings), filters };
}
