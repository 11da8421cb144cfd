/**
 * The errors a command line reports as one line: usage mistakes (exit 2), a help request (exit 0),
 * and the services it could not use (exit 1). All extend {@link QuotesSinkError}, so `runMain`
 * never prints a stack trace for them.
 */
import { redactUrl } from '../../lib/config';
import { QuotesSinkError, type QuotesSinkErrorOptions } from '../../lib/errors';

/** The command line is wrong: unknown flag, missing value, bad number, conflicting flags. Exit 2. */
export class UsageError extends QuotesSinkError {}

/**
 * The input a command was given is wrong where a file's contents are (a line that is not JSON):
 * exit 2, like a usage mistake, with {@link InputError.problems} shown one line each, each naming
 * where (`FILE:LINE: why`).
 */
export class InputError extends QuotesSinkError {
  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'));
  }
}

/** `--help` was given: {@link HelpRequested.text} is printed on stdout and the command exits 0. */
export class HelpRequested extends QuotesSinkError {
  constructor(readonly text: string) {
    super('help requested');
  }
}

/** The services a command talks to. */
export type Service = 'kafka' | 'postgres' | 'mongo';

/** Which setting names each service's address, for messages. */
export const SETTING_OF: Readonly<Record<Service, string>> = {
  kafka: 'KAFKA_BROKERS',
  postgres: 'POSTGRES_URL',
  mongo: 'MONGO_URL',
};

/**
 * The text of an error and its causes on one line: `e.message`, or for an AggregateError with an
 * empty message (Node's connect to `localhost` on IPv4 and IPv6) its errors' messages; codes are
 * used when a message is empty; the causes of errors not of ours are appended. Passwords in URLs
 * are redacted.
 */
export function causeText(e: unknown): string {
  if (!(e instanceof Error)) return redactUrl(String(e));
  let text = e.message;
  if (!text && e instanceof AggregateError) text = [...new Set(e.errors.map(causeText))].join('; ');
  if (!text) text = (e as { code?: string }).code ?? e.name;
  // Our own errors say what matters in their message; a cause is appended for the others only.
  const cause = e instanceof QuotesSinkError ? undefined : e.cause;
  if (cause instanceof Error) {
    const inner = causeText(cause);
    if (inner && !text.includes(inner)) text = `${text}: ${inner}`;
  }
  return redactUrl(text);
}

/** A service did not answer, or refused us (wrong password, missing database); names its address. */
export class UnreachableError extends QuotesSinkError {
  constructor(
    readonly service: Service,
    /** The address as shown (password redacted). */
    readonly address: string,
    cause: unknown,
    options: QuotesSinkErrorOptions = {},
  ) {
    super(`cannot connect to ${service} at ${redactUrl(address)} (${SETTING_OF[service]}): ${causeText(cause)}`, {
      retriable: true,
      ...options,
      cause,
    });
  }
}

/** Several services failed their start-up check at once; `errors` holds each one. */
export class ServicesUnreachableError extends QuotesSinkError {
  constructor(readonly errors: UnreachableError[]) {
    super(errors.map((e) => e.message).join('; '), { retriable: true });
  }
}

/** The topic a command needs does not exist; the message says how to create it. */
export class MissingTopicError extends QuotesSinkError {
  constructor(
    readonly topic: string,
    readonly brokers: string,
    hint = `create it with \`npm run topics -- create ${topic}\``,
  ) {
    super(`topic "${topic}" does not exist on ${brokers} (this Kafka does not create topics on use): ${hint}`);
  }
}
