/**
 * How the emulator calls the function: in process (a handler passed in by the CLI, the composition
 * root), or through serverless-offline's Lambda endpoint as the event source mapping calls Lambda.
 */
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { QuotesSinkError } from '../../lib/errors';
import type { KafkaEvent } from '../../lib/event/types';
import type { BatchItemFailure, BatchSummary } from '../../lib/sink/batch';

/** What the function answers: its batch summary or, as a partial batch response, the records to retry. */
export type FunctionResponse = BatchSummary | { batchItemFailures: BatchItemFailure[] };

/** Invokes the function with one event; `close` releases what the invoker holds. */
export type Invoker = ((event: KafkaEvent) => Promise<FunctionResponse>) & { close?: () => Promise<void> };

/** The Lambda handler's signature, as handlers/sink.ts exports it. */
export type SinkHandler = (event: KafkaEvent) => Promise<FunctionResponse>;

/**
 * The function answered a partial batch response naming records to retry. With
 * ReportBatchItemFailures the emulator retries from the lowest failed offset per partition
 * (./delivery.ts); without it, the whole event, which the idempotent writes make harmless.
 */
export class ItemFailuresError extends QuotesSinkError {
  constructor(readonly batchItemFailures: BatchItemFailure[]) {
    const from = batchItemFailures.map((f) => `${f.itemIdentifier['topic-partition']}@${f.itemIdentifier.offset}`);
    super(`the function asked to retry records from ${from.join(', ')}`, { retriable: true });
  }
}

/** Whether the function answered its batch summary (else a partial batch response, maybe empty). */
export const isSummary = (response: FunctionResponse): response is BatchSummary => !('batchItemFailures' in response);

/**
 * Calls `handler` in this process. `close` ends its connections when the emulator stops (for
 * handlers/sink.ts, its `closeConnections`). lib/ never imports handlers/: the CLI passes them in.
 */
export function inProcessInvoker(handler: SinkHandler, close?: () => Promise<void>): Invoker {
  const invoke: Invoker = (event) => handler(event);
  invoke.close = close;
  return invoke;
}

/**
 * The invoked function reported an error (`FunctionError` in the response). Retriable: the mapping
 * retries every function error, whatever its type.
 */
export class FunctionInvokeError extends QuotesSinkError {
  constructor(
    readonly functionError: string,
    readonly payload: string,
  ) {
    super(`function error (${functionError}): ${payload.slice(0, 500)}`, { retriable: true });
  }
}

/** Calls the function through serverless-offline with the AWS SDK, as the ESM would call Lambda. */
export function offlineInvoker(endpoint: string, functionName: string): Invoker {
  const client = new LambdaClient({
    endpoint,
    region: 'eu-west-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
  const invoke: Invoker = async (event) => {
    const res = await client.send(
      new InvokeCommand({
        FunctionName: functionName,
        InvocationType: 'RequestResponse',
        Payload: Buffer.from(JSON.stringify(event)),
      }),
    );
    const payload = Buffer.from(res.Payload ?? []).toString('utf8');
    if (res.FunctionError) throw new FunctionInvokeError(res.FunctionError, payload);
    return JSON.parse(payload) as FunctionResponse;
  };
  invoke.close = async () => client.destroy();
  return invoke;
}
