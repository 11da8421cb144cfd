/**
 * The CloudFormation side of the Kafka mappings: finds the AWS::Lambda::EventSourceMapping
 * resources by type (never by logical ID, which the framework derives from the topic and cluster
 * names), adds the properties v3 cannot express from the deploy params, and adds the IAM statements
 * that exactly those mappings and that destination need. Pure functions over a template object.
 */
import {
  checkMapping,
  mappingNotes,
  settingsFromCloudFormation,
  type MappingSettings,
  type Violation,
} from './mapping-rules';
import { QuotesSinkError } from '../../lib/errors';
import { destinationUri, type DeployParams } from './params';

export interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface CfnTemplate {
  Resources: Record<string, CfnResource>;
  [key: string]: unknown;
}

export interface IamStatement {
  Sid?: string;
  Effect: 'Allow';
  Action: string[];
  Resource: unknown;
  Condition?: Record<string, unknown>;
}

export const ESM_TYPE = 'AWS::Lambda::EventSourceMapping';
/** The function role the framework generates (provider.iam.role). */
export const ROLE_LOGICAL_ID = 'IamRoleLambdaExecution';

/** Secret-backed access configurations (SASL/SCRAM, basic auth, mTLS, CA) of a Kafka mapping. */
const SECRET_ACCESS_TYPES = new Set([
  'BASIC_AUTH',
  'SASL_SCRAM_256_AUTH',
  'SASL_SCRAM_512_AUTH',
  'CLIENT_CERTIFICATE_TLS_AUTH',
  'SERVER_ROOT_CA_CERTIFICATE',
]);

/** The template's event source mappings, by logical ID. */
export function eventSourceMappings(template: CfnTemplate): [string, Record<string, unknown>][] {
  return Object.entries(template.Resources)
    .filter(([, r]) => r.Type === ESM_TYPE)
    .map(([id, r]) => [id, (r.Properties ??= {})]);
}

/**
 * The properties every Kafka mapping gets from the params, beside what the framework compiled; a
 * Kafka destination sends to `destinationTopic` (the route's, default the destinationTopic param).
 */
export function mappingProperties(p: DeployParams, destinationTopic = p.destinationTopic): Record<string, unknown> {
  const props: Record<string, unknown> = {
    DestinationConfig: { OnFailure: { Destination: destinationUri(p, destinationTopic) } },
  };
  // Error handling controls exist only in provisioned mode (kafka-retry-configurations); AWS
  // rejects them on an on-demand mapping.
  if (p.scaling === 'provisioned') {
    props.ProvisionedPollerConfig = { MinimumPollers: p.minimumPollers, MaximumPollers: p.maximumPollers };
    props.MaximumRetryAttempts = p.maximumRetryAttempts;
    props.MaximumRecordAgeInSeconds = p.maximumRecordAgeInSeconds;
    props.BisectBatchOnFunctionError = p.bisectBatchOnFunctionError;
    if (p.reportBatchItemFailures) props.FunctionResponseTypes = ['ReportBatchItemFailures'];
  }
  return props;
}

const mskClusterArn = (props: Record<string, unknown>) =>
  typeof props.EventSourceArn === 'string' && props.EventSourceArn.includes(':kafka:')
    ? props.EventSourceArn
    : undefined;

const secretArns = (props: Record<string, unknown>) =>
  ((props.SourceAccessConfigurations ?? []) as { Type: string; URI: unknown }[])
    .filter((c) => SECRET_ACCESS_TYPES.has(c.Type))
    .map((c) => c.URI);

/** `arn:aws:kafka:r:a:cluster/name/uuid` → `arn:aws:kafka:r:a:topic/name/uuid/<topic>` (MSK's topic ARNs). */
export function mskTopicArn(clusterArn: string, topic: string): string {
  return `${clusterArn.replace(':cluster/', ':topic/')}/${topic}`;
}

/** The topic of a mapping's Kafka on-failure destination, if it has one. */
const kafkaDestinationTopic = (props: Record<string, unknown>): string | undefined => {
  const uri = (props.DestinationConfig as { OnFailure?: { Destination?: unknown } } | undefined)?.OnFailure
    ?.Destination;
  return typeof uri === 'string' && uri.startsWith('kafka://') ? uri.slice('kafka://'.length) : undefined;
};

/**
 * IAM for the destination: Kafka topics (MSK only: self-managed Kafka authorises by its own ACLs;
 * `topics` are the MSK mappings' destination topic ARNs), S3 or SQS.
 */
function destinationStatements(p: DeployParams, topics: string[]): IamStatement[] {
  const key: IamStatement[] = [];
  if (p.destination !== 'kafka' && p.destinationKmsKeyArn) {
    // An SSE-KMS bucket needs GenerateDataKey; an encrypted queue needs Decrypt too (kafka-on-failure).
    const actions = p.destination === 's3' ? ['kms:GenerateDataKey'] : ['kms:Decrypt', 'kms:GenerateDataKey'];
    key.push({ Sid: 'DestinationKey', Effect: 'Allow', Action: actions, Resource: p.destinationKmsKeyArn });
  }
  switch (p.destination) {
    case 'kafka':
      return topics.length
        ? [{ Sid: 'KafkaDestination', Effect: 'Allow', Action: ['kafka-cluster:WriteData'], Resource: topics }]
        : [];
    case 's3':
      return [
        {
          Sid: 'S3DestinationObjects',
          Effect: 'Allow',
          Action: ['s3:PutObject'],
          Resource: `${p.destinationBucketArn}/*`,
        },
        { Sid: 'S3DestinationBucket', Effect: 'Allow', Action: ['s3:ListBucket'], Resource: p.destinationBucketArn },
        ...key,
      ];
    case 'sqs':
      return [
        { Sid: 'SqsDestination', Effect: 'Allow', Action: ['sqs:SendMessage'], Resource: p.destinationQueueArn },
        ...key,
      ];
  }
}

/**
 * The statements the mappings need beyond the framework's (which grants the self-managed Kafka
 * secret, VPC networking and MSK describe): the MSK secrets, kms:Decrypt on the secrets' key
 * (through Secrets Manager only), and the destination. None when there is no mapping.
 */
export function roleStatements(mappings: Record<string, unknown>[], p: DeployParams): IamStatement[] {
  if (mappings.length === 0) return [];
  const msk = mappings.filter((m) => mskClusterArn(m) !== undefined);
  const statements: IamStatement[] = [];
  const mskSecrets = [...new Set(msk.flatMap(secretArns))];
  if (mskSecrets.length) {
    statements.push({
      Sid: 'MskSecret',
      Effect: 'Allow',
      Action: ['secretsmanager:GetSecretValue'],
      Resource: mskSecrets,
    });
  }
  if (mappings.some((m) => secretArns(m).length > 0)) {
    statements.push({
      Sid: 'SecretsKey',
      Effect: 'Allow',
      Action: ['kms:Decrypt'],
      Resource: p.secretsKmsKeyArn,
      Condition: { StringEquals: { 'kms:ViaService': { 'Fn::Sub': 'secretsmanager.${AWS::Region}.amazonaws.com' } } },
    });
  }
  // Each MSK mapping's own destination topic (a route's, tools/deploy/routes.ts), on its cluster.
  const topics = msk.map((m) =>
    mskTopicArn(mskClusterArn(m) as string, kafkaDestinationTopic(m) ?? p.destinationTopic),
  );
  return [...statements, ...destinationStatements(p, [...new Set(topics)])];
}

/** The statement list of the framework's role policy (undefined if the template has no such role). */
function roleStatementList(template: CfnTemplate): IamStatement[] | undefined {
  const policies = template.Resources[ROLE_LOGICAL_ID]?.Properties?.Policies as
    { PolicyDocument: { Statement: IamStatement[] } }[] | undefined;
  return policies?.[0]?.PolicyDocument.Statement;
}

const FUNCTION_TYPE = 'AWS::Lambda::Function';

/**
 * Sets SINK_PARTIAL_BATCH_RESPONSE on the functions: 'true' only when every mapping reports batch
 * item failures. A function that answered `batchItemFailures` to a mapping without
 * ReportBatchItemFailures would have its failed records taken as processed, and lost.
 */
function tellFunctionsAboutPartialResponses(template: CfnTemplate, mappings: Record<string, unknown>[]): void {
  const reported = (m: Record<string, unknown>) =>
    Array.isArray(m.FunctionResponseTypes) && m.FunctionResponseTypes.includes('ReportBatchItemFailures');
  const on = mappings.length > 0 && mappings.every(reported);
  for (const r of Object.values(template.Resources)) {
    if (r.Type !== FUNCTION_TYPE) continue;
    const props = (r.Properties ??= {}) as { Environment?: { Variables?: Record<string, unknown> } };
    const env = ((props.Environment ??= {}).Variables ??= {});
    env.SINK_PARTIAL_BATCH_RESPONSE = on ? 'true' : 'false';
  }
}

/**
 * Adds the params' properties to every Kafka mapping and their IAM statements to the role, in place.
 * `destinationTopics`: a mapping's own Kafka destination topic, by logical ID (default: the param).
 */
export function applyMappingParams(
  template: CfnTemplate,
  p: DeployParams,
  destinationTopics: Readonly<Record<string, string>> = {},
): void {
  const found = eventSourceMappings(template);
  for (const [id, props] of found) Object.assign(props, mappingProperties(p, destinationTopics[id]));
  const mappings = found.map(([, props]) => props);
  tellFunctionsAboutPartialResponses(template, mappings);
  const extra = roleStatements(mappings, p);
  if (extra.length === 0) return;
  const list = roleStatementList(template);
  if (!list)
    throw new QuotesSinkError(`the template has no ${ROLE_LOGICAL_ID} policy to add the mappings' permissions to`);
  list.push(...extra);
}

/** One mapping of a template as the doctor reports it. */
export interface MappingReport {
  logicalId: string;
  settings: MappingSettings;
  violations: Violation[];
  notes: string[];
}

/** Where the rules across mappings come from (they are this sink's: one route per topic). */
export const ROUTES_DOC = 'docs/deploying.md#one-mapping-per-route';

/** A mapping's cluster: its MSK cluster ARN, or its self-managed bootstrap servers. */
const clusterOf = (props: Record<string, unknown>): string =>
  mskClusterArn(props) ??
  JSON.stringify((props.SelfManagedEventSource as { Endpoints?: unknown } | undefined)?.Endpoints ?? null);

/**
 * The rules across the mappings of one cluster: a topic read by two of them (the function routes
 * by topic, so both would sink every record), and a Kafka destination topic another one reads
 * (its failed records would be sunk again as that route's).
 */
function acrossMappings(mappings: [string, Record<string, unknown>][]): Map<string, Violation[]> {
  const found = new Map<string, Violation[]>(mappings.map(([id]) => [id, []]));
  const readers = new Map<string, string>();
  for (const [id, props] of mappings) {
    const key = (topic: string) => `${clusterOf(props)} ${topic}`;
    const topic = settingsFromCloudFormation(props).topics[0];
    const first = topic === undefined ? undefined : readers.get(key(topic));
    if (first !== undefined) {
      const message = `topic "${topic}" is read by ${first} already: one mapping (one route) per topic`;
      found.get(id)?.push({ rule: 'topic-routed-twice', message, source: ROUTES_DOC });
    } else if (topic !== undefined) readers.set(key(topic), id);
  }
  for (const [id, props] of mappings) {
    const destination = kafkaDestinationTopic(props);
    const reader = destination === undefined ? undefined : readers.get(`${clusterOf(props)} ${destination}`);
    if (reader === undefined || reader === id) continue; // its own topic: destination-not-source says so
    const message = `destination topic "${destination}" is routed (${reader} reads it): its failed records would be sunk again`;
    found.get(id)?.push({ rule: 'destination-routed', message, source: ROUTES_DOC });
  }
  return found;
}

/**
 * Applies the rules of tools/deploy/mapping-rules.ts to every Kafka mapping of a packaged
 * template, and the rules across its mappings (one per routed topic).
 */
export function checkTemplate(template: CfnTemplate): MappingReport[] {
  const mappings = eventSourceMappings(template);
  const across = acrossMappings(mappings);
  return mappings.map(([logicalId, props]) => {
    const settings = settingsFromCloudFormation(props);
    const violations = [...checkMapping(settings), ...(across.get(logicalId) ?? [])];
    return { logicalId, settings, violations, notes: mappingNotes(settings) };
  });
}
