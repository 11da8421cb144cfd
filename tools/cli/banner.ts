/**
 * The banner a command prints before it starts: the brokers, topic and group, and the stores it
 * uses, so a wrong `.env` or a stale `.stack/env` shows before anything is written. Passwords are
 * redacted.
 */
import { redactUrl, type Config } from '../../lib/config';
import { qualifiedTable } from '../../lib/postgres/names';

/** What a command uses; leave a part out to keep it off the banner. */
export interface BannerParts {
  /** The topic, when it talks to Kafka (the brokers come from the config). */
  topic?: string;
  /** The consumer group, when it consumes. */
  group?: string;
  /** Whether it writes to or reads from the stores. */
  stores?: boolean;
}

/** Kafka's security settings in a few words (never the credentials). */
function kafkaSecurity(c: Config): string {
  const parts = [c.KAFKA_SSL ? 'TLS' : '', c.KAFKA_SASL_MECHANISM ? `SASL ${c.KAFKA_SASL_MECHANISM}` : ''];
  const shown = parts.filter(Boolean).join(', ');
  return shown ? `, ${shown}` : '';
}

/** The banner's lines: `kafka …`, `postgres …`, `mongo …` as `parts` asks. */
export function bannerLines(c: Config, parts: BannerParts): string[] {
  const lines: string[] = [];
  if (parts.topic !== undefined) {
    const group = parts.group === undefined ? '' : `, group ${parts.group}`;
    lines.push(`kafka     ${c.KAFKA_BROKERS}${kafkaSecurity(c)}: topic ${parts.topic}${group}`);
  }
  if (parts.stores) {
    const tables = `${qualifiedTable(c, 'records')}, ${qualifiedTable(c, 'deadLetters')}`;
    lines.push(`postgres  ${redactUrl(c.POSTGRES_URL)}: ${tables}`);
    lines.push(`mongo     ${redactUrl(c.MONGO_URL)}: ${c.MONGO_DATABASE}.${c.MONGO_COLLECTION}`);
  }
  return lines;
}

/**
 * Prints {@link bannerLines} on stderr (stdout stays for results), each line prefixed with
 * `[name]`.
 */
export function printBanner(
  name: string,
  c: Config,
  parts: BannerParts,
  stream: NodeJS.WritableStream = process.stderr,
): void {
  for (const line of bannerLines(c, parts)) stream.write(`[${name}] ${line}\n`);
}
