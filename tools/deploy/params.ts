/**
 * The deploy params that shape the Kafka mappings beyond what the Serverless Framework v3 compiles
 * itself: scaling mode, error handling controls, on-failure destination and the KMS keys. They
 * reach the plugin (tools/deploy/esm-plugin.ts) as `custom.mapping` in serverless.yml, resolved, so
 * numbers and booleans may arrive as strings (`--param=minimumPollers=2`).
 */
import { z } from 'zod';
import { QuotesSinkError } from '../../lib/errors';

/** A deploy param is missing or malformed; `serverless package` stops before writing anything. */
export class DeployParamsError extends QuotesSinkError {
  constructor(readonly problems: string[]) {
    super(`invalid deploy params: ${problems.join('; ')}`);
  }
}

const int = z.coerce.number().int();
/** YAML and --param give true/false as booleans or strings; `z.coerce.boolean` would take "false" as true. */
const bool = z.union([z.boolean(), z.enum(['true', 'false']).transform((s) => s === 'true')]);
/** An ARN or the empty string ("not used"). */
const optionalArn = z.union([z.literal(''), z.string().startsWith('arn:')]).default('');

export const SCALING_MODES = ['on-demand', 'provisioned'] as const;
export const DESTINATIONS = ['kafka', 's3', 'sqs'] as const;

const schema = z.object({
  scaling: z.enum(SCALING_MODES),
  minimumPollers: int,
  maximumPollers: int,
  maximumRetryAttempts: int,
  maximumRecordAgeInSeconds: int,
  bisectBatchOnFunctionError: bool,
  reportBatchItemFailures: bool,
  destination: z.enum(DESTINATIONS),
  destinationTopic: z.string().min(1),
  destinationBucketArn: z.string().startsWith('arn:aws:s3:::'),
  destinationQueueArn: z.string().startsWith('arn:aws:sqs:'),
  destinationKmsKeyArn: optionalArn,
  secretsKmsKeyArn: z.string().startsWith('arn:aws:kms:'),
});

/** The validated params (see README "Deploying" for each). */
export type DeployParams = z.infer<typeof schema>;

/** Validates `custom.mapping` as resolved by the framework; throws {@link DeployParamsError} listing every problem. */
export function parseDeployParams(raw: unknown): DeployParams {
  const parsed = schema.safeParse(raw ?? {});
  if (parsed.success) return parsed.data;
  throw new DeployParamsError(parsed.error.issues.map((i) => `${i.path.join('.') || 'custom.mapping'}: ${i.message}`));
}

/**
 * The on-failure destination as the mapping's DestinationConfig takes it; a Kafka destination sends
 * to `topic` (a route's own, tools/deploy/routes.ts; default: the destinationTopic param).
 */
export function destinationUri(p: DeployParams, topic = p.destinationTopic): string {
  switch (p.destination) {
    case 'kafka':
      return `kafka://${topic}`;
    case 's3':
      return p.destinationBucketArn;
    case 'sqs':
      return p.destinationQueueArn;
  }
}
