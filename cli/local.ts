/**
 * `npm run local -- [options]`: the Kafka event source mapping emulator (flags and exit codes in
 * {@link USAGE}). Polls the topic with a kafkajs consumer group and calls the sink function with
 * events identical to AWS's.
 */
import { createWriteStream } from 'node:fs';
import { constants } from 'node:os';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { z } from 'zod';
import { closeConnections, handler } from '../handlers/sink';
import { loadConfig, loadStackEnv, type Config } from '../lib/config';
import {
  DEFAULT_FETCH_MAX_BYTES,
  DEFAULT_PARTITION_FETCH_MAX_BYTES,
  Emulator,
  type EmulatorStatus,
} from '../lib/emulator/emulator';
import { inProcessInvoker, offlineInvoker, type Invoker } from '../lib/emulator/invoke';
import { QuotesSinkError } from '../lib/errors';
import { createKafka } from '../lib/kafka';
import { createLogger, type Logger } from '../lib/log';

/** What `--help` prints. */
export const USAGE = `npm run local -- [options]: the Kafka event source mapping emulator.

  --batch-size N          records per event, 1..10000 (default 100)
  --batch-window-ms MS    how long an event may wait to fill (default 500)
  --source S              self-managed (default) or msk: the event's shape
  --starting-position P   TRIM_HORIZON (default) or LATEST, for a new consumer group
  --invoke M              inprocess (default) or offline (serverless-offline's Lambda endpoint)
  --endpoint URL          offline endpoint (default http://localhost:3002)
  --function NAME         offline function name (default quotes-sink-local-sink)
  --max-attempts N        give up (exit 1) after N failed invocations of one event; 0 = forever (default)
  --backoff-cap-ms MS     longest wait between retries (default 30000)
  --fetch-max-bytes N     bytes per Kafka fetch (default 33554432)
  --partition-fetch-max-bytes N  bytes per partition per fetch (default 8388608)
  --until-idle            exit 0 once every partition is caught up for --idle-ms (default 1500)
  --log-file PATH         also write the JSON logs to PATH
  --help                  this text

Environment: KAFKA_TOPIC, KAFKA_GROUP_ID (default quotes-sink-local), and the sink's settings.

Exit codes: 0 idle (--until-idle), 1 failed (delivery gave up, a record too large to invoke,
Kafka unusable), 2 bad flags, 130 after SIGINT, 143 after SIGTERM. On a signal the emulator stops
within 5 s: invocations under way may finish, and nothing else is committed.
`;

/** A bad command line: exit 2, every problem named on one line. */
class UsageError extends QuotesSinkError {}

/** A flag given without its value comes out of parseArgs as `true`. */
const text = () => z.string({ invalid_type_error: 'needs a value' });
const wholeNumber = (def: number, min: number, max: number) =>
  text()
    .default(String(def))
    .refine((v) => /^\d+$/.test(v) && Number(v) >= min && Number(v) <= max, `a whole number from ${min} to ${max}`)
    .transform(Number);
const oneOf = <const T extends [string, ...string[]]>(values: T, def: T[number]) =>
  z.enum(values, { errorMap: () => ({ message: values.join(' or ') }) }).default(def);

/** The flags, checked together: unknown flags and every bad value are reported at once. */
const localOptions = z
  .object({
    'batch-size': wholeNumber(100, 1, 10_000),
    'batch-window-ms': wholeNumber(500, 0, 300_000),
    source: oneOf(['self-managed', 'msk'], 'self-managed'),
    'starting-position': oneOf(['TRIM_HORIZON', 'LATEST'], 'TRIM_HORIZON'),
    invoke: oneOf(['inprocess', 'offline'], 'inprocess'),
    endpoint: text().url('a URL').default('http://localhost:3002'),
    function: text().min(1).default('quotes-sink-local-sink'),
    'max-attempts': wholeNumber(0, 0, 1_000_000),
    'backoff-cap-ms': wholeNumber(30_000, 10, 3_600_000),
    'fetch-max-bytes': wholeNumber(DEFAULT_FETCH_MAX_BYTES, 65_536, 1_073_741_824),
    'partition-fetch-max-bytes': wholeNumber(DEFAULT_PARTITION_FETCH_MAX_BYTES, 65_536, 1_073_741_824),
    'until-idle': z.boolean({ invalid_type_error: 'takes no value' }).default(false),
    'idle-ms': wholeNumber(1_500, 0, 600_000),
    'log-file': text().min(1).optional(),
    help: z.boolean({ invalid_type_error: 'takes no value' }).default(false),
  })
  .strict();

type LocalOptions = z.infer<typeof localOptions>;

const PARSE_OPTIONS = Object.fromEntries(
  Object.keys(localOptions.shape).map((k) => [
    k,
    { type: k === 'until-idle' ? ('boolean' as const) : ('string' as const) },
  ]),
);

/** One problem of the command line, named by its flag. */
function describeIssue(i: z.ZodIssue): string {
  if (i.code === 'unrecognized_keys')
    return `unknown flag${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `--${k}`).join(', ')}`;
  return `--${i.path.join('.')}: ${i.message}`;
}

/**
 * Parses and validates the command line; throws {@link UsageError} naming every problem at once
 * (unknown flags, bad values, stray arguments) on one line.
 */
export function parseLocalOptions(args: string[]): LocalOptions {
  // Lenient parsing, so that the schema sees everything and reports it together.
  const { values, positionals } = parseArgs({ args, options: PARSE_OPTIONS, strict: false, allowPositionals: true });
  const parsed = localOptions.safeParse(values);
  const problems = parsed.success ? [] : parsed.error.issues.map(describeIssue);
  if (positionals.length)
    problems.push(`unexpected argument${positionals.length > 1 ? 's' : ''} ${positionals.join(' ')}`);
  if (!parsed.success || problems.length) throw new UsageError(problems.join('; '));
  return parsed.data;
}

function statusLine(s: EmulatorStatus): string {
  const lag = Object.entries(s.lag)
    .map(([p, l]) => `${p.slice(p.lastIndexOf('-') + 1)}:${l}`)
    .join(' ');
  const lost = s.lostToRetention ? ` | ${s.lostToRetention} offsets lost to retention` : '';
  return `${s.rate} rec/s | ${s.records} records, ${s.written.postgres} written, ${s.alreadyPresent} already there, ${s.deadLettered} dead letters | lag ${lag || '-'}${lost}`;
}

const doneLine = (s: EmulatorStatus) => `done: ${statusLine(s)} in ${(s.elapsedMs / 1000).toFixed(1)}s`;

function emulatorLogger(config: Config, logFile: string | undefined): Logger {
  const streams: pino.StreamEntry[] = [{ stream: process.stdout }];
  if (logFile) streams.push({ stream: createWriteStream(logFile, { flags: 'a' }) });
  return createLogger(config.LOG_LEVEL, 'quotes-sink-emulator', pino.multistream(streams));
}

function invoker(o: LocalOptions): Invoker {
  return o.invoke === 'offline' ? offlineInvoker(o.endpoint, o.function) : inProcessInvoker(handler, closeConnections);
}

function createEmulator(o: LocalOptions, config: Config, log: Logger): Emulator {
  const tty = process.stderr.isTTY === true;
  return new Emulator({
    kafka: createKafka(config, 'quotes-sink-emulator'),
    invoke: invoker(o),
    log,
    topic: config.KAFKA_TOPIC,
    groupId: config.KAFKA_GROUP_ID,
    bootstrapServers: config.KAFKA_BROKERS,
    startingPosition: o['starting-position'],
    batchSize: o['batch-size'],
    windowMs: o['batch-window-ms'],
    source: o.source,
    retry: { attempts: o['max-attempts'] || 'forever', baseMs: 200, capMs: o['backoff-cap-ms'] },
    stopWhen: o['until-idle'] ? { idleMs: o['idle-ms'] } : 'signal',
    fetchMaxBytes: o['fetch-max-bytes'],
    partitionFetchMaxBytes: o['partition-fetch-max-bytes'],
    statusEveryMs: tty ? 1_000 : 5_000,
    onStatus: (s) => (tty ? process.stderr.write(`\r\x1b[2K${statusLine(s)}`) : log.info({ status: s }, 'status')),
  });
}

/** How long a signalled emulator may take to stop before the process exits anyway. */
const STOP_DEADLINE_MS = 4_000;

/** The conventional exit code after a signal: 128 + its number (130 SIGINT, 143 SIGTERM). */
const signalExitCode = (sig: NodeJS.Signals) => 128 + constants.signals[sig];

/** A second signal sooner than this is the same one again (the tsx CLI may relay a signal twice). */
const REPEAT_SIGNAL_MS = 500;

interface SignalWatch {
  /** The signal that stopped the emulator, if one did. */
  received(): NodeJS.Signals | undefined;
  dispose(): void;
}

/**
 * SIGINT/SIGTERM stop the emulator; if it has not stopped within {@link STOP_DEADLINE_MS}, or on a
 * second signal, the process exits at once (nothing more gets committed either way).
 */
function stopOnSignals(emulator: Emulator, log: Logger): SignalWatch {
  let received: NodeJS.Signals | undefined;
  let at = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    if (received) {
      if (Date.now() - at >= REPEAT_SIGNAL_MS) process.exit(signalExitCode(sig));
      return;
    }
    received = sig;
    at = Date.now();
    emulator.stop(sig);
    setTimeout(() => {
      log.error({ signal: sig, deadlineMs: STOP_DEADLINE_MS }, 'not stopped in time: exiting without waiting');
      console.error(doneLine(emulator.status()));
      process.exit(signalExitCode(sig));
    }, STOP_DEADLINE_MS).unref();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const dispose = () => {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  };
  return { received: () => received, dispose };
}

async function main(): Promise<number> {
  const options = parseLocalOptions(process.argv.slice(2));
  if (options.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  loadStackEnv();
  const config = loadConfig();
  const log = emulatorLogger(config, options['log-file']);
  const emulator = createEmulator(options, config, log);
  const signals = stopOnSignals(emulator, log);
  try {
    const status = await emulator.run();
    if (process.stderr.isTTY) process.stderr.write('\n');
    log.info({ status }, 'emulator stopped');
    console.error(doneLine(status));
    const sig = signals.received();
    return sig ? signalExitCode(sig) : 0;
  } finally {
    signals.dispose();
  }
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (e: Error) => {
      console.error(e instanceof UsageError ? `local: ${e.message}` : `emulator failed: ${e.message}`);
      process.exit(e instanceof UsageError ? 2 : 1);
    },
  );
}
