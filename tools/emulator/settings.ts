/**
 * The settings one emulator run uses, from three sources in this order: flags, the deployed
 * mapping (a packaged template, see ./mapping.ts), AWS's defaults for Kafka mappings.
 */
import path from 'node:path';
import { destinationKind, KAFKA_DEFAULTS, type EffectiveMapping } from '../deploy/mapping-rules';
import { STACK_DIR, type Config } from '../../lib/config';
import { createKafka } from '../kafka';
import { PRIMARY_ROUTE, primaryRoute, routeMappings, type RouteMapping } from '../deploy/routes';
import type { RoutePlan } from '../../lib/routes/plan';
import type { FailurePolicy } from './delivery';
import { folderDestination, kafkaDestination, type EventContext, type FailureDestination } from './destination';
import type { StartingPosition } from './emulator';
import { parseFilters, FilterPatternError } from './filter';
import {
  emulatedMapping,
  loadTemplate,
  MappingRejectedError,
  pickMapping,
  templateMappings,
  type EmulatedMapping,
  type TemplateMapping,
} from './mapping';

/** The flags that bear on the mapping's settings (as cli/local.ts parses them). */
export interface MappingFlags {
  stage?: string;
  params?: string;
  'batch-size'?: number;
  'batch-window-ms'?: number;
  source?: 'self-managed' | 'msk';
  'starting-position'?: StartingPosition;
  'starting-timestamp'?: number;
  'group-id'?: string;
  filter?: string;
  'max-attempts'?: number;
  'max-record-age'?: number;
  bisect?: boolean;
  'report-batch-item-failures'?: boolean;
  destination?: string;
  's3-destination'?: string;
}

/** What the emulator runs with (one mapping). */
export interface RunSettings {
  /** The topic the mapping reads (KAFKA_TOPIC for the quotes route). */
  topic: string;
  /** The sink file's route it is for (unset: the settings of {@link resolveSettings}, the quotes route's). */
  route?: string;
  groupId: string;
  source: 'self-managed' | 'msk';
  startingPosition: StartingPosition;
  startingTimestampMs?: number;
  batchSize: number;
  windowMs: number;
  attempts: number | 'forever';
  policy: FailurePolicy;
  /** The handler should answer partial batch responses (SINK_PARTIAL_BATCH_RESPONSE). */
  partialResponses: boolean;
  /** Lines for the banner: where the settings came from. */
  describe: string[];
}

const paramsOf = (s: string | undefined): Record<string, string> =>
  Object.fromEntries(
    (s ?? '')
      .split(',')
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );

/** The template's Kafka mappings; undefined when no template is used. */
async function templateOf(f: MappingFlags, t: TemplateChoice): Promise<TemplateMapping[] | undefined> {
  if (!t.file) return undefined;
  const mappings = templateMappings(await loadTemplate(t.file, f.stage, paramsOf(f.params)));
  // The packaged default of a stage without a trigger is no reason to refuse to run.
  if (mappings.length === 0 && !t.explicit) return undefined;
  return mappings;
}

/**
 * The template's mapping for `topic`, checked: the one of the flag's source on that topic, else
 * (a template packaged with another sink file) the one `pickMapping` takes.
 */
function mappingFor(
  mappings: TemplateMapping[] | undefined,
  f: MappingFlags,
  topic?: string,
): EmulatedMapping | undefined {
  if (!mappings) return undefined;
  const onTopic = mappings.filter((m) => topic !== undefined && m.settings.topics.includes(topic));
  return emulatedMapping(pickMapping(onTopic.length ? onTopic : mappings, f.source));
}

/** Invocations allowed: MaximumRetryAttempts + 1 (-1 is forever); `--max-attempts` counts invocations. */
function attemptsOf(f: MappingFlags, m: EffectiveMapping | undefined): number | 'forever' {
  if (f['max-attempts'] !== undefined) return f['max-attempts'] || 'forever';
  const retries = m?.maximumRetryAttempts ?? KAFKA_DEFAULTS.maximumRetryAttempts;
  return retries < 0 ? 'forever' : retries + 1;
}

/**
 * The on-failure destination: a flag, else the template's (S3 becomes a folder under .stack/s3). A
 * route other than the primary one sends to its own Kafka topic (tools/deploy/routes.ts), and
 * shares the primary's folder.
 */
function destinationOf(
  f: MappingFlags,
  m: EffectiveMapping | undefined,
  config: Config,
  ctx: EventContext,
  route?: RouteMapping,
): FailureDestination | undefined {
  if (f['s3-destination']) return folderDestination(f['s3-destination'], ctx);
  const uri = f.destination ?? m?.onFailureDestination;
  if (uri === undefined) return undefined;
  if (destinationKind(uri) === 'kafka') {
    const topic = route && !route.primary ? route.destinationTopic : uri.slice('kafka://'.length);
    const kafka = createKafka(config, 'quotes-sink-emulator-destination');
    return kafkaDestination(kafka, topic, ctx, { sourceTopic: route?.topic ?? config.KAFKA_TOPIC });
  }
  // An ARN: S3 (or SQS/SNS, which AWS gives metadata only) is kept in a folder named after it.
  const name = uri.split(':').pop() ?? 'destination';
  return folderDestination(path.join(STACK_DIR, 'destinations', name.replace(/[^\w.-]/g, '_')), ctx);
}

function filtersOf(f: MappingFlags, m: EmulatedMapping | undefined) {
  if (f.filter === undefined) return m?.filters ?? [];
  try {
    return parseFilters([f.filter]);
  } catch (e) {
    if (e instanceof FilterPatternError) throw new MappingRejectedError([`--filter: ${e.message}`]);
    throw e;
  }
}

/** Where a new group starts: flag, else the template, else TRIM_HORIZON; AT_TIMESTAMP needs a time. */
function startOf(
  f: MappingFlags,
  m: EffectiveMapping | undefined,
): Pick<RunSettings, 'startingPosition' | 'startingTimestampMs'> {
  const startingPosition = (f['starting-position'] ?? m?.startingPosition ?? 'TRIM_HORIZON') as StartingPosition;
  const seconds = f['starting-timestamp'] ?? m?.startingPositionTimestamp;
  if (startingPosition === 'AT_TIMESTAMP' && seconds === undefined) {
    throw new MappingRejectedError(['AT_TIMESTAMP needs --starting-timestamp SECONDS (StartingPositionTimestamp)']);
  }
  return { startingPosition, startingTimestampMs: seconds === undefined ? undefined : seconds * 1000 };
}

/** Filters, age, bisect, partial responses and destination: flag, else the template, else off. */
function policyOf(
  f: MappingFlags,
  mapping: EmulatedMapping | undefined,
  config: Config,
  source: RunSettings['source'],
  route?: RouteMapping,
): FailurePolicy {
  const m = mapping?.effective;
  const age = f['max-record-age'] ?? m?.maximumRecordAgeInSeconds ?? -1;
  return {
    filters: filtersOf(f, mapping),
    maxRecordAgeMs: age < 0 ? undefined : age * 1000,
    bisect: f.bisect ?? m?.bisectBatchOnFunctionError ?? false,
    reportBatchItemFailures: f['report-batch-item-failures'] ?? m?.reportBatchItemFailures ?? false,
    destination: destinationOf(f, m, config, { source, bootstrapServers: config.KAFKA_BROKERS }, route),
  };
}

/** The batching window in milliseconds: flag, else the template's seconds, else AWS's 0.5 s. */
const windowOf = (f: MappingFlags, m: EffectiveMapping | undefined) =>
  f['batch-window-ms'] ??
  Math.round((m?.maximumBatchingWindowInSeconds ?? KAFKA_DEFAULTS.maximumBatchingWindowInSeconds) * 1000);

/** Banner lines: the mapping used, the destination. */
function describeRun(mapping: EmulatedMapping | undefined, file: string | undefined, policy: FailurePolicy): string[] {
  const lines = mapping ? [`mapping   ${mapping.logicalId} of ${file} (flags override it)`] : [];
  if (policy.destination) lines.push(`on failure ${policy.destination.uri}`);
  return lines;
}

/** Which template to read (cli/local.ts `templateFile`). */
export interface TemplateChoice {
  file?: string;
  explicit: boolean;
}

/** Records per event: flag, else the template's, else AWS's 100. */
const batchSizeOf = (f: MappingFlags, m: EffectiveMapping | undefined) =>
  f['batch-size'] ?? m?.batchSize ?? KAFKA_DEFAULTS.batchSize;

/** The consumer group: a route's own by the naming rules, else the flag, the template's, KAFKA_GROUP_ID. */
const groupIdOf = (f: MappingFlags, m: EffectiveMapping | undefined, config: Config, route?: RouteMapping) =>
  route && !route.primary ? route.groupId : (f['group-id'] ?? m?.consumerGroupId ?? config.KAFKA_GROUP_ID);

/**
 * One mapping's settings: flags over the template's mapping over AWS's defaults. A route other than
 * the primary one takes its consumer group and Kafka destination from the naming rules.
 */
function settingsOf(
  f: MappingFlags,
  config: Config,
  mapping: EmulatedMapping | undefined,
  file: string | undefined,
  route?: RouteMapping,
): RunSettings {
  const m = mapping?.effective;
  const source = f.source ?? m?.source ?? 'self-managed';
  const policy = policyOf(f, mapping, config, source, route);
  return {
    topic: route?.topic ?? config.KAFKA_TOPIC,
    route: route?.route,
    groupId: groupIdOf(f, m, config, route),
    source,
    ...startOf(f, m),
    batchSize: batchSizeOf(f, m),
    windowMs: windowOf(f, m),
    attempts: attemptsOf(f, m),
    policy,
    partialResponses: policy.reportBatchItemFailures,
    describe: route?.primary === false ? [] : describeRun(mapping, file, policy),
  };
}

/**
 * The run's settings: flags over the template's mapping over AWS's defaults. Throws
 * {@link MappingRejectedError} listing what AWS would reject.
 */
export async function resolveSettings(f: MappingFlags, config: Config, t: TemplateChoice): Promise<RunSettings> {
  return settingsOf(f, config, mappingFor(await templateOf(f, t), f), t.file);
}

/** One route's mapping (by the naming rules of tools/deploy/routes.ts) and what it runs with. */
export interface RouteRun {
  mapping: RouteMapping;
  settings: RunSettings;
}

/**
 * The settings of every route's mapping, in the sink file's order: the primary route's as
 * {@link resolveSettings} gives them (on its topic), each other route's the same but for its topic,
 * consumer group and Kafka destination (and the template's mapping of its topic, when there is one).
 */
export async function resolveRouteSettings(
  f: MappingFlags,
  config: Config,
  t: TemplateChoice,
  routes: readonly Pick<RoutePlan, 'name' | 'topic'>[],
): Promise<RouteRun[]> {
  const mappings = await templateOf(f, t);
  const first = primaryRoute(routes);
  const firstTopic = first === PRIMARY_ROUTE ? config.KAFKA_TOPIC : routes.find((r) => r.name === first)?.topic;
  const primary = settingsOf(f, config, mappingFor(mappings, f, firstTopic), t.file);
  const destination = primary.policy.destination?.uri ?? '';
  const named = routeMappings(routes, {
    topic: config.KAFKA_TOPIC,
    groupId: primary.groupId,
    destinationTopic: destination.startsWith('kafka://') ? destination.slice('kafka://'.length) : '',
  });
  return named.map((m) => {
    if (!m.primary) return { mapping: m, settings: settingsOf(f, config, mappingFor(mappings, f, m.topic), t.file, m) };
    return { mapping: m, settings: { ...primary, topic: m.topic, route: m.route } };
  });
}
