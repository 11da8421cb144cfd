/** How the emulator calls the function: in process, or through serverless-offline's Lambda endpoint. */
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import type { KafkaEvent } from '../event/types';
import type { BatchSummary } from '../sink/batch';

export type Invoker = ((event: KafkaEvent) => Promise<BatchSummary>) & { close?: () => Promise<void> };

/** Imports handlers/sink.ts and calls it directly (the default). */
export function inProcessInvoker(): Invoker {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require('../../handlers/sink') as typeof import('../../handlers/sink');
  const invoke: Invoker = (event) => mod.handler(event);
  invoke.close = () => mod.closeConnections();
  return invoke;
}

/** Thrown when the invoked function reported an error (`FunctionError` in the response). */
export class FunctionInvokeError extends Error {
  constructor(readonly functionError: string, readonly payload: string) {
    super(`function error (${functionError}): ${payload.slice(0, 500)}`);
    this.name = 'FunctionInvokeError';
  }
}

/** Calls the function through serverless-offline with the AWS SDK, as the ESM would call Lambda. */
export function offlineInvoker(endpoint: string, functionName: string): Invoker {
  const client = new LambdaClient({ endpoint, region: 'eu-west-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 1 });
  const invoke: Invoker = async (event) => {
    const res = await client.send(new InvokeCommand({ FunctionName: functionName, InvocationType: 'RequestResponse', Payload: Buffer.from(JSON.stringify(event)) }));
    const payload = Buffer.from(res.Payload ?? []).toString('utf8');
    if (res.FunctionError) throw new FunctionInvokeError(res.FunctionError, payload);
    return JSON.parse(payload) as BatchSummary;
  };
  invoke.close = async () => client.destroy();
  return invoke;
}

export interface RetryOptions {
  /** 0 = retry forever (the ESM's default). */
  maxAttempts: number;
  baseMs: number;
  capMs: number;
}

/** Calls `fn` until it succeeds, with capped exponential backoff and jitter; `stopped` ends the wait. */
export async function withRetry<T>(fn: () => Promise<T>, opts: RetryOptions, onRetry: (attempt: number, err: unknown, delayMs: number) => void): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (opts.maxAttempts > 0 && attempt >= opts.maxAttempts) throw e;
      const delay = Math.round(Math.min(opts.capMs, opts.baseMs * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2));
      onRetry(attempt, e, delay);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}
