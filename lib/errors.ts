/**
 * The root of the project's errors, {@link QuotesSinkError}, with native `cause` and a `retriable`
 * flag (in the manner of kafkajs's KafkaJSError). The errors themselves live beside their code
 * (lib/event/errors.ts, lib/sink/errors.ts, `ConfigError` in lib/config.ts, tools/…/errors.ts);
 * they carry their context as fields and derive their message from them.
 */

/** Options every error of this project accepts: the native cause, and whether a retry can help. */
export interface QuotesSinkErrorOptions extends ErrorOptions {
  retriable?: boolean;
}

/** The root of every error this project raises on purpose. */
export class QuotesSinkError extends Error {
  /** Whether doing the same again later can succeed (a store outage) or cannot (bad input). */
  readonly retriable: boolean;

  constructor(message: string, options: QuotesSinkErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.retriable = options.retriable ?? false;
  }
}
