/**
 * `npm run local -- [options]`: the Kafka event source mapping emulator (flags in `--help`). Polls
 * the topic with a kafkajs consumer group and calls the sink function with events identical to
 * AWS's, with the settings of the deployed mapping when a packaged template is there or named.
 */
import { createWriteStream, existsSync, type WriteStream } from 'node:fs';
import { constants } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { z } from 'zod';
import { closeConnections, handler } from '../handlers/sink';
import { defineCommand, enumFlag, intFlag, kafkaDestinationFlag, parseCommand } from '../tools/cli/args';
import { printBanner } from '../tools/cli/banner';
import { UsageError } from '../tools/cli/errors';
import { runMain } from '../tools/cli/main';
import { reachable } from '../tools/cli/reachable';
import { loadConfig, loadStackEnv, storesInUse, type Config } from '../lib/config';
import {
  DEFAULT_FETCH_MAX_BYTES,
  DEFAULT_PARTITION_FETCH_MAX_BYTES,
  Emulator,
  type EmulatorStatus,
} from '../tools/emulator/emulator';
import { inProcessInvoker, isSummary, offlineInvoker, type Invoker } from '../tools/emulator/invoke';
import { DEFAULT_TEMPLATE, MappingRejectedError } from '../tools/emulator/mapping';
import { batchLine, doneLine, statusLine } from '../tools/emulator/report';
import { resolveSettings, type RunSettings } from '../tools/emulator/settings';
import { clusterIdOf, createKafka } from '../tools/kafka';
import { createLogger, type Logger } from '../lib/log';
import { EmulatorStatusWriter } from '../tools/ui/status-file';

const s = (value: string, help: string) => ({ type: 'string' as const, value, help });
const b = (help: string) => ({ type: 'boolean' as const, help });

/** The flags; those a template may set are optional here (flag > template > default). */
export const LOCAL_COMMAND = defineCommand({
  command: 'npm run local --',
  summary: 'The Kafka event source mapping emulator: polls KAFKA_TOPIC and invokes the sink function.',
  flags: {
    'from-template': s(
      '[PATH]',
      `take the mapping's settings from a packaged template or serverless.yml (default ${DEFAULT_TEMPLATE.replace(/.*\/\.serverless/, '.serverless')} when it exists)`,
    ),
    'no-template': b('ignore the packaged template even if it exists'),
    stage: s('NAME', 'with --from-template serverless.yml: the stage to package (default dev)'),
    params: s('K=V,...', 'with --from-template serverless.yml: params to package with'),
    'batch-size': s('N', 'records per event, 1..10000 (default 100)'),
    'batch-window-ms': s('MS', 'how long an event may wait to fill (default 500)'),
    source: s('S', 'self-managed (default) or msk: the event shape (and which mapping of a template)'),
    'starting-position': s('P', 'TRIM_HORIZON (default), LATEST or AT_TIMESTAMP, for a new consumer group'),
    'starting-timestamp': s('SECONDS', 'with AT_TIMESTAMP: unix time in seconds'),
    'group-id': s('ID', "consumer group (default: the template's ConsumerGroupId, else KAFKA_GROUP_ID)"),
    filter: s('JSON', 'a FilterCriteria pattern, e.g. {"value":{"character":[{"prefix":"Homer"}]}}'),
    'max-attempts': s(
      'N',
      'invocations of one batch before giving up; 0 = forever (default; template: MaximumRetryAttempts+1)',
    ),
    'max-record-age': s('SECONDS', 'records older go to the destination without invoking; -1 = no limit (default)'),
    bisect: b('split a failing batch in two and retry each half'),
    'report-batch-item-failures': b('honour partial batch responses (and have the handler answer them)'),
    destination: s('kafka://TOPIC', 'on-failure destination: a topic on the same cluster'),
    's3-destination': s('DIR', 'on-failure destination: a folder standing for the S3 bucket'),
    invoke: s('M', "inprocess (default) or offline (serverless-offline's Lambda endpoint)"),
    endpoint: s('URL', 'offline endpoint (default http://localhost:3002)'),
    function: s('NAME', 'offline function name (default quotes-sink-local-sink)'),
    'backoff-cap-ms': s('MS', 'longest wait between retries (default 30000)'),
    'fetch-max-bytes': s('N', `bytes per Kafka fetch (default ${DEFAULT_FETCH_MAX_BYTES})`),
    'partition-fetch-max-bytes': s('N', `bytes per partition per fetch (default ${DEFAULT_PARTITION_FETCH_MAX_BYTES})`),
    'until-idle': b('exit 0 once every partition is caught up for --idle-ms'),
    'idle-ms': s('MS', 'with --until-idle (default 1500)'),
    'log-file': s('PATH', "also write every log line of the run (the handler's batch reports too) to PATH"),
    json: b('JSON logs on stderr/stdout even on a terminal'),
    'no-store-check': b('start even when a store does not answer (the emulator then retries; outage drills)'),
  },
  schema: z
    .object({
      'from-template': z.string().min(1).optional(),
      'no-template': z.boolean().optional(),
      stage: z.string().min(1).optional(),
      params: z.string().optional(),
      'batch-size': intFlag(1, 10_000).optional(),
      'batch-window-ms': intFlag(0, 300_000).optional(),
      source: enumFlag(['self-managed', 'msk']).optional(),
      'starting-position': enumFlag(['TRIM_HORIZON', 'LATEST', 'AT_TIMESTAMP']).optional(),
      'starting-timestamp': intFlag(0).optional(),
      'group-id': z.string().min(1).optional(),
      filter: z.string().min(2).optional(),
      'max-attempts': intFlag(0, 1_000_000).optional(),
      'max-record-age': intFlag(-1, 604_800).optional(),
      bisect: z.boolean().optional(),
      'report-batch-item-failures': z.boolean().optional(),
      destination: kafkaDestinationFlag().optional(),
      's3-destination': z.string().min(1).optional(),
      invoke: enumFlag(['inprocess', 'offline']).default('inprocess'),
      endpoint: z.string().url('takes a URL').default('http://localhost:3002'),
      function: z.string().min(1).default('quotes-sink-local-sink'),
      'backoff-cap-ms': intFlag(10, 3_600_000).default('30000'),
      'fetch-max-bytes': intFlag(65_536, 1_073_741_824).default(String(DEFAULT_FETCH_MAX_BYTES)),
      'partition-fetch-max-bytes': intFlag(65_536, 1_073_741_824).default(String(DEFAULT_PARTITION_FETCH_MAX_BYTES)),
      'until-idle': z.boolean().default(false),
      'idle-ms': intFlag(0, 600_000).default('1500'),
      'log-file': z.string().min(1).optional(),
      json: z.boolean().default(false),
      'no-store-check': z.boolean().default(false),
    })
    .strict(),
  notes: [
    "Environment: KAFKA_TOPIC, KAFKA_GROUP_ID (default quotes-sink-local), and the sink's settings.",
    'Exit codes: 0 idle (--until-idle), 1 failed (delivery gave up with no destination, a record too large to invoke, Kafka unusable), 2 bad flags or a mapping AWS would reject, 130 after SIGINT, 143 after SIGTERM. A second signal stops at once.',
  ],
});

export type LocalOptions = z.infer<typeof LOCAL_COMMAND.schema>;

/** `--from-template` with no path takes the default template. */
function withTemplateDefault(argv: string[]): string[] {
  return argv.flatMap((a, i) =>
    a === '--from-template' && (argv[i + 1] === undefined || argv[i + 1].startsWith('--'))
      ? [a, DEFAULT_TEMPLATE]
      : [a],
  );
}

/** Parses and validates the command line; throws a one-line UsageError (or HelpRequested). */
export function parseLocalOptions(argv: string[]): LocalOptions {
  return parseCommand(LOCAL_COMMAND, withTemplateDefault(argv));
}

/** Which template to read: named, or the packaged one when it exists (unless --no-template). */
export function templateFile(o: LocalOptions, exists = existsSync): { file?: string; explicit: boolean } {
  if (o['from-template']) return { file: o['from-template'], explicit: true };
  if (!o['no-template'] && exists(DEFAULT_TEMPLATE)) return { file: DEFAULT_TEMPLATE, explicit: false };
  return { explicit: false };
}

/** Where the output goes: on a terminal a status line and one line per batch; JSON otherwise. */
interface Output {
  human: boolean;
  log: Logger;
  /** The log file only: the batch reports the emulator copies there. */
  fileLog?: Logger;
  file?: WriteStream;
}

/** The log file, appended to; a missing folder is a usage mistake, not a stack trace. */
function logFile(file: string): WriteStream {
  const dir = path.dirname(path.resolve(file));
  if (!existsSync(dir)) throw new UsageError(`--log-file: folder ${dir} does not exist`);
  return createWriteStream(file, { flags: 'a' });
}

/** The emulator's logger (stdout, and --log-file), and stdout mirrored into the log file. */
function output(config: Config, o: LocalOptions): Output {
  const human = process.stderr.isTTY === true && !o.json;
  const file = o['log-file'] ? logFile(o['log-file']) : undefined;
  // Not on a terminal the emulator logs to stdout, which is mirrored into the file below.
  const streams: pino.StreamEntry[] = [];
  if (!human) streams.push({ stream: process.stdout });
  else if (file) streams.push({ stream: file });
  const log = createLogger(config.LOG_LEVEL, 'quotes-sink-emulator', pino.multistream(streams));
  const fileLog = file && createLogger(config.LOG_LEVEL, 'quotes-sink', file);
  // What the handler prints with process.stdout (its EMF line) goes to the log file too; on a
  // terminal only there, so the status line stays readable. Its pino lines bypass process.stdout:
  // on a terminal it logs warnings only, and its batch reports are copied to the file here.
  if (file || human) mirrorStdout(file, human);
  if (human && ['info', 'debug', 'trace'].includes(config.LOG_LEVEL)) process.env.LOG_LEVEL = 'warn';
  return { human, log, fileLog, file };
}

function mirrorStdout(file: WriteStream | undefined, human: boolean): void {
  const write = process.stdout.write.bind(process.stdout) as (chunk: unknown, ...rest: unknown[]) => boolean;
  process.stdout.write = ((chunk: unknown, ...rest: unknown[]) => {
    file?.write(chunk as string);
    return human ? true : write(chunk, ...rest);
  }) as typeof process.stdout.write;
}

/** The invoker; each batch report the function answers is logged (and shown on a terminal). */
function invoker(o: LocalOptions, out: Output): Invoker {
  const inner =
    o.invoke === 'offline' ? offlineInvoker(o.endpoint, o.function) : inProcessInvoker(handler, closeConnections);
  const invoke: Invoker = async (event) => {
    const response = await inner(event);
    if (isSummary(response)) {
      out.fileLog?.info({ summary: response }, 'batch written');
      if (out.human) process.stderr.write(`\r\x1b[2K${batchLine(response)}\n`);
    }
    return response;
  };
  invoke.close = inner.close;
  return invoke;
}

/** Logs, prints and publishes each status tick. */
function statusReporter(out: Output, writer: EmulatorStatusWriter): (s: EmulatorStatus) => void {
  return (st) => {
    writer.update(st);
    if (out.human) process.stderr.write(`\r\x1b[2K${statusLine(st)}`);
    else out.log.info({ status: st }, 'status');
  };
}

function createEmulator(
  r: RunSettings,
  o: LocalOptions,
  config: Config,
  out: Output,
  writer: EmulatorStatusWriter,
): Emulator {
  return new Emulator({
    kafka: createKafka(config, 'quotes-sink-emulator'),
    invoke: invoker(o, out),
    log: out.log,
    topic: config.KAFKA_TOPIC,
    groupId: r.groupId,
    bootstrapServers: config.KAFKA_BROKERS,
    startingPosition: r.startingPosition,
    startingTimestampMs: r.startingTimestampMs,
    batchSize: r.batchSize,
    windowMs: r.windowMs,
    source: r.source,
    retry: { attempts: r.attempts, baseMs: 200, capMs: o['backoff-cap-ms'] },
    policy: r.policy,
    stopWhen: o['until-idle'] ? { idleMs: o['idle-ms'] } : 'signal',
    fetchMaxBytes: o['fetch-max-bytes'],
    partitionFetchMaxBytes: o['partition-fetch-max-bytes'],
    statusEveryMs: out.human ? 1_000 : 5_000,
    onStatus: statusReporter(out, writer),
  });
}

/** How long a signalled emulator may take to stop before the process exits anyway. */
const STOP_DEADLINE_MS = 4_000;
/** A second signal sooner than this is the same one relayed again (npm and tsx both forward it). */
const REPEAT_SIGNAL_MS = 300;

/** The conventional exit code after a signal: 128 + its number (130 SIGINT, 143 SIGTERM). */
const signalExitCode = (sig: NodeJS.Signals) => 128 + constants.signals[sig];

/**
 * SIGINT/SIGTERM/SIGHUP stop the emulator; a second signal, or no stop within
 * {@link STOP_DEADLINE_MS}, exits at once (nothing more gets committed either way).
 */
function stopOnSignals(emulator: Emulator, log: Logger): { received(): NodeJS.Signals | undefined; dispose(): void } {
  let received: NodeJS.Signals | undefined;
  let at = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    if (received) {
      if (Date.now() - at >= REPEAT_SIGNAL_MS) process.exit(signalExitCode(sig));
      return;
    }
    received = sig;
    at = Date.now();
    process.stderr.write(`\n${sig}: stopping (again to stop at once)\n`);
    emulator.stop(sig);
    setTimeout(() => {
      log.error({ signal: sig, deadlineMs: STOP_DEADLINE_MS }, 'not stopped in time: exiting without waiting');
      process.stderr.write(`${doneLine(emulator.status())}\n`);
      process.exit(signalExitCode(sig));
    }, STOP_DEADLINE_MS).unref();
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const sig of signals) process.on(sig, onSignal);
  // A parent killed outright (npm's shell, a SIGKILLed wrapper) leaves us an orphan: stop as if told to.
  const parent = process.ppid;
  const orphaned = setInterval(() => process.ppid !== parent && onSignal('SIGTERM'), 1_000).unref();
  const dispose = () => {
    clearInterval(orphaned);
    signals.forEach((sig) => process.removeListener(sig, onSignal));
  };
  return { received: () => received, dispose };
}

/** Runs the emulator until idle or signalled; the exit code. */
async function runEmulator(r: RunSettings, o: LocalOptions, config: Config, out: Output): Promise<number> {
  const writer = new EmulatorStatusWriter({ topic: config.KAFKA_TOPIC, groupId: r.groupId });
  const emulator = createEmulator(r, o, config, out, writer);
  const signals = stopOnSignals(emulator, out.log);
  try {
    const status = await emulator.run();
    writer.update(status); // the final totals, for the UI
    if (out.human) process.stderr.write('\r\x1b[2K');
    out.log.info({ status }, 'emulator stopped');
    process.stderr.write(`${doneLine(status)}\n`);
    const sig = signals.received();
    return sig ? signalExitCode(sig) : 0;
  } finally {
    writer.stop();
    signals.dispose();
    await r.policy.destination?.close().catch(() => undefined);
    await new Promise<void>((resolve) => (out.file ? out.file.end(resolve) : resolve()));
  }
}

async function main(argv: string[]): Promise<number> {
  const options = parseLocalOptions(argv);
  loadStackEnv();
  const config = loadConfig();
  let settings: RunSettings;
  try {
    settings = await resolveSettings(options, config, templateFile(options));
  } catch (e) {
    if (!(e instanceof MappingRejectedError)) throw e;
    for (const line of e.lines) process.stderr.write(`local: ${line}\n`);
    return 2;
  }
  const out = output(config, options);
  if (settings.partialResponses) process.env.SINK_PARTIAL_BATCH_RESPONSE = 'true';
  printBanner('local', config, {
    topic: config.KAFKA_TOPIC,
    group: settings.groupId,
    stores: options.invoke === 'inprocess',
  });
  for (const line of settings.describe) process.stderr.write(`[local] ${line}\n`);
  // Once, before consuming: a wrong password or a store that is down is one line now, not endless retries.
  const stores = options.invoke === 'inprocess' && !options['no-store-check'];
  await reachable(config, stores ? ['kafka', ...storesInUse(config)] : ['kafka']);
  // Records are named by Kafka's own cluster id, not by how the brokers are spelled (the handler
  // reads it from its environment, as a deployed function does from the clusterId param).
  process.env.SINK_CLUSTER_ID = await clusterIdOf(config, createKafka(config, 'quotes-sink-local'));
  return runEmulator(settings, options, config, out);
}

if (require.main === module) runMain('local', main);

export { UsageError };
