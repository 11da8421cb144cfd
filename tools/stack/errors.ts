/** Errors of the stack command. */
import { QuotesSinkError, type QuotesSinkErrorOptions } from '../../lib/errors';

/** A service of the stack could not be brought up or used; the message starts with its name. */
export class StackError extends QuotesSinkError {
  constructor(
    /** The native service (postgres, kafka, ferretdb) or the store (kafka, postgres, mongo) concerned. */
    readonly service: string,
    /** What went wrong, without the service's name. */
    readonly reason: string,
    options: QuotesSinkErrorOptions = {},
  ) {
    super(`${service}: ${reason}`, options);
  }
}

/** `up` failed; `errors` holds each service's own {@link StackError}. */
export class StackUpError extends QuotesSinkError {
  constructor(
    message: string,
    readonly errors: StackError[],
  ) {
    super(message, { retriable: errors.length > 0 && errors.every((e) => e.retriable) });
  }
}

/** `e` as a StackError of `service`: itself if it is one, else wrapped (its message kept, itself as the cause). */
export function toStackError(service: string, e: unknown): StackError {
  if (e instanceof StackError) return e;
  return new StackError(service, e instanceof Error ? e.message : String(e), { cause: e });
}
