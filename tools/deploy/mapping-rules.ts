/**
 * AWS's rules for Kafka event source mappings (Amazon MSK and self-managed Apache Kafka), as pure
 * functions over one mapping's settings: `checkMapping` lists what AWS would reject (or what would
 * lose records), `effectiveMapping` fills in what AWS applies when a setting is left out. Used by
 * `npm run doctor` on packaged templates, and meant for the local emulator too, so that it rejects
 * and applies what AWS does.
 *
 * Each rule names the AWS page it comes from:
 * - {@link DOCS.retries}: error handling controls (provisioned mode only; ranges; -1 with a destination is 10)
 * - {@link DOCS.kafkaDestination}: Kafka topic destination (`kafka://`, never the source topic)
 * - {@link DOCS.destinations}: destinations for Kafka mappings (S3 keeps the records; SQS and SNS get metadata)
 * - {@link DOCS.pollers}: ProvisionedPollerConfig ranges
 * - {@link DOCS.api} / {@link DOCS.onFailure}: value ranges and patterns of the API
 * - {@link DOCS.mskParameters}: the parameters that apply to Kafka mappings, and their defaults
 */

/** The AWS pages the rules come from. */
export const DOCS = {
  retries: 'https://docs.aws.amazon.com/lambda/latest/dg/kafka-retry-configurations.html',
  kafkaDestination: 'https://docs.aws.amazon.com/lambda/latest/dg/kafka-on-failure-destination.html',
  destinations: 'https://docs.aws.amazon.com/lambda/latest/dg/kafka-on-failure.html',
  pollers: 'https://docs.aws.amazon.com/lambda/latest/api/API_ProvisionedPollerConfig.html',
  api: 'https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html',
  onFailure: 'https://docs.aws.amazon.com/lambda/latest/api/API_OnFailure.html',
  mskParameters: 'https://docs.aws.amazon.com/lambda/latest/dg/msk-esm-parameters.html',
} as const;

export type StartingPosition = 'TRIM_HORIZON' | 'LATEST' | 'AT_TIMESTAMP';

/** One Kafka mapping's settings, as CloudFormation's AWS::Lambda::EventSourceMapping names them (camelCase). */
export interface MappingSettings {
  /** `msk` (EventSourceArn of a cluster) or `self-managed` (SelfManagedEventSource). */
  source: 'msk' | 'self-managed';
  topics: string[];
  batchSize?: number;
  maximumBatchingWindowInSeconds?: number;
  startingPosition?: string;
  /** Unix time in seconds, with AT_TIMESTAMP only. */
  startingPositionTimestamp?: number;
  consumerGroupId?: string;
  /** Present means provisioned mode; absent means on-demand. */
  provisionedPollers?: { minimum?: number; maximum?: number };
  maximumRetryAttempts?: number;
  maximumRecordAgeInSeconds?: number;
  bisectBatchOnFunctionError?: boolean;
  functionResponseTypes?: string[];
  /** `kafka://topic` or the ARN of an S3 bucket, SQS queue or SNS topic. */
  onFailureDestination?: string;
}

/** What AWS runs when settings are left out: every optional setting filled in. */
export interface EffectiveMapping {
  source: MappingSettings['source'];
  topics: string[];
  batchSize: number;
  maximumBatchingWindowInSeconds: number;
  startingPosition: string;
  startingPositionTimestamp?: number;
  consumerGroupId?: string;
  scaling: 'on-demand' | 'provisioned';
  provisionedPollers?: { minimum: number; maximum: number };
  /** -1 is infinite (until the record leaves the topic's retention). */
  maximumRetryAttempts: number;
  maximumRecordAgeInSeconds: number;
  bisectBatchOnFunctionError: boolean;
  reportBatchItemFailures: boolean;
  onFailureDestination?: string;
  destinationKind: DestinationKind;
  /** Whether the destination receives the failed records themselves (not only their offsets). */
  destinationKeepsRecords: boolean;
}

/** One setting AWS would reject, or that would lose records, explained in one line. */
export interface Violation {
  rule: string;
  message: string;
  /** The AWS page that states the rule. */
  source: string;
}

/** A rule: an id, its AWS page, and a check that returns one message per problem found. */
export interface MappingRule {
  id: string;
  source: string;
  check: (s: MappingSettings) => string[];
}

export type DestinationKind = 'none' | 'kafka' | 's3' | 'sqs' | 'sns' | 'unknown';

/** Kafka's topic names as the Lambda API takes them (Topics, and `kafka://` destinations). */
export const LAMBDA_TOPIC_NAME = /^[^.][a-zA-Z0-9\-_.]{0,248}$/;
const CONSUMER_GROUP_PATTERN = /^[a-zA-Z0-9\-/*:_+=.@]{1,200}$/;
const STARTING_POSITIONS: readonly string[] = ['TRIM_HORIZON', 'LATEST', 'AT_TIMESTAMP'];
/** The settings AWS accepts only in provisioned mode, by their CloudFormation names. */
const PROVISIONED_ONLY: readonly [keyof MappingSettings, string][] = [
  ['maximumRetryAttempts', 'MaximumRetryAttempts'],
  ['maximumRecordAgeInSeconds', 'MaximumRecordAgeInSeconds'],
  ['bisectBatchOnFunctionError', 'BisectBatchOnFunctionError'],
  ['functionResponseTypes', 'FunctionResponseTypes'],
];

/** Lambda's defaults for Kafka mappings (msk-esm-parameters, kafka-retry-configurations). */
export const KAFKA_DEFAULTS = {
  batchSize: 100,
  maximumBatchingWindowInSeconds: 0.5,
  minimumPollers: 1,
  maximumPollers: 200,
  /** Infinite; with an on-failure destination AWS applies {@link RETRIES_WITH_DESTINATION}. */
  maximumRetryAttempts: -1,
  maximumRecordAgeInSeconds: -1,
} as const;

/** "When you configure both infinite retries and an on-failure destination, Lambda automatically applies a maximum of 10 retry attempts." */
export const RETRIES_WITH_DESTINATION = 10;

const isInt = (n: number) => Number.isInteger(n);
const outside = (n: number | undefined, min: number, max: number) =>
  n !== undefined && (!isInt(n) || n < min || n > max);

/** The kind of an on-failure destination, from its `kafka://` prefix or its ARN's service. */
export function destinationKind(destination: string | undefined): DestinationKind {
  if (destination === undefined || destination === '') return 'none';
  if (destination.startsWith('kafka://')) return 'kafka';
  const service = /^arn:aws[a-zA-Z-]*:([a-z0-9-]+):/.exec(destination)?.[1];
  return service === 's3' || service === 'sqs' || service === 'sns' ? service : 'unknown';
}

/** Only a Kafka topic or an S3 bucket receives the failed records; SQS and SNS get offsets and metadata. */
export const keepsRecords = (kind: DestinationKind) => kind === 'kafka' || kind === 's3';

const checkBatchSize: MappingRule = {
  id: 'batch-size',
  source: DOCS.api,
  check: (s) =>
    outside(s.batchSize, 1, 10_000) ? [`BatchSize ${s.batchSize} is outside 1..10000 (Kafka's maximum is 10000)`] : [],
};

const checkBatchingWindow: MappingRule = {
  id: 'batching-window',
  source: DOCS.api,
  check: (s) =>
    outside(s.maximumBatchingWindowInSeconds, 0, 300)
      ? [`MaximumBatchingWindowInSeconds ${s.maximumBatchingWindowInSeconds} is outside 0..300 whole seconds`]
      : [],
};

const checkStartingPosition: MappingRule = {
  id: 'starting-position',
  source: DOCS.mskParameters,
  check: (s) => {
    if (s.startingPosition === undefined) return ['StartingPosition is required for Kafka mappings'];
    if (!STARTING_POSITIONS.includes(s.startingPosition)) {
      return [`StartingPosition ${s.startingPosition} is not one of ${STARTING_POSITIONS.join(', ')}`];
    }
    const at = s.startingPosition === 'AT_TIMESTAMP';
    if (at && s.startingPositionTimestamp === undefined) return ['AT_TIMESTAMP needs StartingPositionTimestamp'];
    if (!at && s.startingPositionTimestamp !== undefined) {
      return [`StartingPositionTimestamp is set but StartingPosition is ${s.startingPosition}, not AT_TIMESTAMP`];
    }
    return [];
  },
};

const checkTopics: MappingRule = {
  id: 'topic',
  source: DOCS.api,
  check: (s) => {
    if (s.topics.length !== 1)
      return [`Topics has ${s.topics.length} entries; a Kafka mapping reads exactly one topic`];
    return LAMBDA_TOPIC_NAME.test(s.topics[0]) ? [] : [`topic "${s.topics[0]}" is not a valid Kafka topic name`];
  },
};

const checkConsumerGroup: MappingRule = {
  id: 'consumer-group-id',
  source: DOCS.api,
  check: (s) =>
    s.consumerGroupId !== undefined && !CONSUMER_GROUP_PATTERN.test(s.consumerGroupId)
      ? [`ConsumerGroupId "${s.consumerGroupId}" must be 1..200 characters of [a-zA-Z0-9-/*:_+=.@]`]
      : [],
};

const checkPollers: MappingRule = {
  id: 'provisioned-pollers',
  source: DOCS.pollers,
  check: ({ provisionedPollers: p }) => {
    if (!p) return [];
    const out: string[] = [];
    if (outside(p.minimum, 1, 200)) out.push(`MinimumPollers ${p.minimum} is outside 1..200`);
    if (outside(p.maximum, 1, 2000)) out.push(`MaximumPollers ${p.maximum} is outside 1..2000`);
    const min = p.minimum ?? KAFKA_DEFAULTS.minimumPollers;
    const max = p.maximum ?? KAFKA_DEFAULTS.maximumPollers;
    if (min > max) out.push(`MinimumPollers ${min} is above MaximumPollers ${max}`);
    return out;
  },
};

const checkProvisionedOnly: MappingRule = {
  id: 'provisioned-mode-only',
  source: DOCS.retries,
  check: (s) =>
    s.provisionedPollers
      ? []
      : PROVISIONED_ONLY.filter(([key]) => s[key] !== undefined).map(
          ([, name]) =>
            `${name} is an error handling control of provisioned mode; set ProvisionedPollerConfig or drop it`,
        ),
};

const checkRetryRanges: MappingRule = {
  id: 'retry-ranges',
  source: DOCS.retries,
  check: (s) => {
    const out: string[] = [];
    const r = s.maximumRetryAttempts;
    if (r !== undefined && r !== -1 && outside(r, 0, 10_000))
      out.push(`MaximumRetryAttempts ${r} is neither -1 nor 0..10000`);
    const age = s.maximumRecordAgeInSeconds;
    if (age !== undefined && age !== -1 && outside(age, 60, 604_800)) {
      out.push(`MaximumRecordAgeInSeconds ${age} is neither -1 nor 60..604800`);
    }
    return out;
  },
};

const checkResponseTypes: MappingRule = {
  id: 'function-response-types',
  source: DOCS.retries,
  check: (s) =>
    (s.functionResponseTypes ?? [])
      .filter((t) => t !== 'ReportBatchItemFailures')
      .map((t) => `FunctionResponseTypes has ${t}; Kafka mappings take only ReportBatchItemFailures`),
};

const checkDestinationFormat: MappingRule = {
  id: 'destination-format',
  source: DOCS.onFailure,
  check: ({ onFailureDestination: d }) => {
    const kind = destinationKind(d);
    if (kind === 'none') return [];
    if (kind === 'unknown')
      return [`on-failure destination "${d}" is neither kafka://<topic> nor an S3, SQS or SNS ARN`];
    if ((d as string).length > 350) return ['on-failure destination is longer than 350 characters'];
    const topic = (d as string).slice('kafka://'.length);
    return kind === 'kafka' && !LAMBDA_TOPIC_NAME.test(topic)
      ? [`destination topic "${topic}" is not a valid Kafka topic name`]
      : [];
  },
};

const checkDestinationNotSource: MappingRule = {
  id: 'destination-not-source',
  source: DOCS.kafkaDestination,
  check: ({ onFailureDestination: d, topics }) => {
    if (destinationKind(d) !== 'kafka') return [];
    const topic = (d as string).slice('kafka://'.length);
    return topics.includes(topic) ? [`destination topic "${topic}" is the source topic; AWS blocks that loop`] : [];
  },
};

/** Every rule, in the order the doctor reports them. */
export const RULES: readonly MappingRule[] = [
  checkTopics,
  checkBatchSize,
  checkBatchingWindow,
  checkStartingPosition,
  checkConsumerGroup,
  checkPollers,
  checkProvisionedOnly,
  checkRetryRanges,
  checkResponseTypes,
  checkDestinationFormat,
  checkDestinationNotSource,
];

/** Everything AWS would reject in `settings` (empty when the mapping is acceptable). */
export function checkMapping(settings: MappingSettings, rules: readonly MappingRule[] = RULES): Violation[] {
  return rules.flatMap((r) => r.check(settings).map((message) => ({ rule: r.id, message, source: r.source })));
}

/** The pollers AWS runs in provisioned mode (undefined in on-demand mode). */
function effectivePollers(p: MappingSettings['provisionedPollers']): EffectiveMapping['provisionedPollers'] {
  return (
    p && { minimum: p.minimum ?? KAFKA_DEFAULTS.minimumPollers, maximum: p.maximum ?? KAFKA_DEFAULTS.maximumPollers }
  );
}

/** The retry limit AWS applies: infinite retries would never reach a destination, so AWS caps them once one is set. */
export function effectiveRetries(s: MappingSettings): number {
  const retries = s.maximumRetryAttempts ?? KAFKA_DEFAULTS.maximumRetryAttempts;
  return retries === -1 && destinationKind(s.onFailureDestination) !== 'none' ? RETRIES_WITH_DESTINATION : retries;
}

/** `settings` with AWS's defaults filled in, as the mapping runs in AWS (call after {@link checkMapping}). */
export function effectiveMapping(s: MappingSettings): EffectiveMapping {
  const kind = destinationKind(s.onFailureDestination);
  return {
    source: s.source,
    topics: s.topics,
    batchSize: s.batchSize ?? KAFKA_DEFAULTS.batchSize,
    maximumBatchingWindowInSeconds: s.maximumBatchingWindowInSeconds ?? KAFKA_DEFAULTS.maximumBatchingWindowInSeconds,
    startingPosition: s.startingPosition ?? 'TRIM_HORIZON',
    startingPositionTimestamp: s.startingPositionTimestamp,
    consumerGroupId: s.consumerGroupId,
    scaling: s.provisionedPollers ? 'provisioned' : 'on-demand',
    provisionedPollers: effectivePollers(s.provisionedPollers),
    maximumRetryAttempts: effectiveRetries(s),
    maximumRecordAgeInSeconds: s.maximumRecordAgeInSeconds ?? KAFKA_DEFAULTS.maximumRecordAgeInSeconds,
    bisectBatchOnFunctionError: s.bisectBatchOnFunctionError ?? false,
    reportBatchItemFailures: (s.functionResponseTypes ?? []).includes('ReportBatchItemFailures'),
    onFailureDestination: kind === 'none' ? undefined : s.onFailureDestination,
    destinationKind: kind,
    destinationKeepsRecords: keepsRecords(kind),
  };
}

/** Kafka's default `max.message.bytes` (1 MiB plus the record batch overhead). */
export const KAFKA_DEFAULT_MAX_MESSAGE_BYTES = 1_048_588;
/** Room for the invocation record around the payload's key and value (metadata, names, digits). */
export const DESTINATION_ENVELOPE_BYTES = 4_096;
/**
 * The `max.message.bytes` a Kafka destination topic needs for the records of a source topic whose
 * own limit is `sourceMaxMessageBytes`: each failed record is sent as its invocation record, with
 * key and value in base64 (4/3 of their size) plus the metadata. Records with large keys or headers
 * need more (the raw key is also the message key; a header byte takes up to 5 as JSON).
 * {@link DOCS.kafkaDestination}
 */
export function destinationMaxMessageBytes(sourceMaxMessageBytes = KAFKA_DEFAULT_MAX_MESSAGE_BYTES): number {
  return Math.ceil(sourceMaxMessageBytes / 3) * 4 + DESTINATION_ENVELOPE_BYTES;
}

/** One-line notes on what AWS will do with `settings` that the template does not say outright. */
export function mappingNotes(s: MappingSettings): string[] {
  const e = effectiveMapping(s);
  const notes: string[] = [];
  if ((s.maximumRetryAttempts ?? -1) === -1 && e.destinationKind !== 'none') {
    notes.push(`retries are infinite with a destination, so AWS applies ${RETRIES_WITH_DESTINATION} (${DOCS.retries})`);
  }
  if (e.destinationKind === 'none')
    notes.push('no on-failure destination: a batch that exhausts its retries is skipped and lost');
  else if (e.destinationKind === 'kafka') {
    const topic = (s.onFailureDestination as string).slice('kafka://'.length);
    notes.push(
      `destination topic ${topic}: its max.message.bytes must hold a failed record base64-encoded in its invocation record, 4/3 of the source topic's max.message.bytes + ${DESTINATION_ENVELOPE_BYTES} (${destinationMaxMessageBytes()} for Kafka's default ${KAFKA_DEFAULT_MAX_MESSAGE_BYTES}); large keys or headers need more (${DOCS.kafkaDestination})`,
    );
  } else if (!e.destinationKeepsRecords) {
    notes.push(
      `${e.destinationKind.toUpperCase()} destination keeps offsets and metadata only, not the records (${DOCS.destinations})`,
    );
  }
  return notes;
}

const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
const num = (v: unknown) =>
  typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : undefined;
const obj = (v: unknown) => (v && typeof v === 'object' ? (v as Record<string, unknown>) : undefined);

/** Pollers from ProvisionedPollerConfig (undefined means on-demand). */
function pollersOf(p: Record<string, unknown> | undefined): MappingSettings['provisionedPollers'] {
  return p && { minimum: num(p.MinimumPollers), maximum: num(p.MaximumPollers) };
}

/** The timestamp as seconds: CloudFormation takes a number, the framework may pass a string. */
const timestampOf = (v: unknown) => (v === undefined ? undefined : num(v));

/** The settings of one AWS::Lambda::EventSourceMapping's Properties (as packaged by the framework). */
export function settingsFromCloudFormation(props: Record<string, unknown>): MappingSettings {
  const groupConfig = obj(props.AmazonManagedKafkaEventSourceConfig) ?? obj(props.SelfManagedKafkaEventSourceConfig);
  const bool = props.BisectBatchOnFunctionError;
  return {
    source: props.SelfManagedEventSource ? 'self-managed' : 'msk',
    topics: Array.isArray(props.Topics) ? props.Topics.map(String) : [],
    batchSize: num(props.BatchSize),
    maximumBatchingWindowInSeconds: num(props.MaximumBatchingWindowInSeconds),
    startingPosition: str(props.StartingPosition),
    startingPositionTimestamp: timestampOf(props.StartingPositionTimestamp),
    consumerGroupId: str(groupConfig?.ConsumerGroupId),
    provisionedPollers: pollersOf(obj(props.ProvisionedPollerConfig)),
    maximumRetryAttempts: num(props.MaximumRetryAttempts),
    maximumRecordAgeInSeconds: num(props.MaximumRecordAgeInSeconds),
    bisectBatchOnFunctionError: typeof bool === 'boolean' ? bool : undefined,
    functionResponseTypes: Array.isArray(props.FunctionResponseTypes)
      ? props.FunctionResponseTypes.map(String)
      : undefined,
    onFailureDestination: str(obj(obj(props.DestinationConfig)?.OnFailure)?.Destination),
  };
}
