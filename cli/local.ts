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
import { defineCommand, enumFlag, intFlag, kafkaDestinationFlag, parseCommand, requires } from '../tools/cli/args';
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
import { ConfluentJsonDecoder } from '../tools/emulator/schema-registry';
import { DEFAULT_TEMPLATE, MappingRejectedError } from '../tools/emulator/mapping';
import { EmulatorGroup, sharedInvoker } from '../tools/emulator/group';
import { batchLine, doneLine, routesLine, statusLine } from '../tools/emulator/report';
import { resolveRouteSettings, type RouteRun, type RunSettings } from '../tools/emulator/settings';
import { mergeStatuses } from '../tools/emulator/status';
import { sinkFilePath } from '../tools/deploy/routes';
import { loadSinkFile } from '../tools/routes/load';
import { clusterIdOf, createKafka } from '../tools/kafka';
import { createLogger, type Logger } from '../lib/log';
import { EmulatorStatusWriter } from '../tools/ui/status-file';

const s = (value: string, help: string) => ({ type: 'string' as const, value, help });
const b = (help: string) => ({ type: 'boolean' as const, help });

/** The flags; those a template may set are optional here (flag > template > default). */
export const LOCAL_COMMAND = defineCommand({
  command: 'npm run local --',
  summary: [
    'The Kafka event source mapping emulator: polls every routed topic of the sink file (the quotes route on',
    'KAFKA_TOPIC), one consumer group per mapping, and invokes the sink function.',
  ].join('\n'),
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
    'until-idle': b(
      'exit 0 once every partition is drained to its end offset (with --idle-ms: once caught up that long)',
    ),
    'idle-ms': s(
      'MS',
      'with --until-idle: exit once caught up this long (default: once drained; 1500 if no record came)',
    ),
    'log-file': s('PATH', "also write every log line of the run (the handler's batch reports too) to PATH"),
    json: b('JSON logs on stderr/stdout even on a terminal'),
    'no-store-check': b('start even when a store does not answer (the emulator then retries; outage drills)'),
    'schema-registry': s(
      'URL',
      'a Confluent-compatible registry: Avro values framed for it are decoded (e.g. $SCHEMA_REGISTRY_URL)',
    ),
    'event-record-format': s(
      'F',
      'with --schema-registry: JSON (default; decoded values, valueSchemaMetadata); SOURCE not yet',
    ),
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
      'schema-registry': z
        .string()
        .refine((u) => /^https?:\/\//i.test(u) && URL.canParse(u), 'takes an http(s) URL')
        .optional(),
      'event-record-format': enumFlag(['JSON']).optional(),
    })
    .strict()
    .superRefine(requires('event-record-format', 'schema-registry')),
  notes: [
    "Environment: KAFKA_TOPIC, KAFKA_GROUP_ID (default quotes-sink-local), SINK_FILE (default sink.yaml), and the sink's settings.",
    'Routes other than quotes: consumer group <group>-<route>, Kafka destination <topic>-failed (docs/deploying.md).',
    'Exit codes: 0 idle (--until-idle), 1 failed (delivery gave up with no destination, a record too large to invoke, Kafka unusable), 2 bad flags or a mapping AWS would reject, 130 after SIGINT, 143 after SIGTERM. A second signal stops at once.',
  ],
});

/** The flags, and whether `--idle-ms` was given (then --until-idle waits that long caught up). */
export type LocalOptions = z.infer<typeof LOCAL_COMMAND.schema> & { idleMsGiven?: boolean };

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
  const o: LocalOptions = parseCommand(LOCAL_COMMAND, withTemplateDefault(argv));
  o.idleMsGiven = argv.some((a) => a === '--idle-ms' || a.startsWith('--idle-ms='));
  return o;
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

/**
 * Logs, prints and publishes each mapping's status ticks: on a terminal one line for every route
 * together (with each route's part when there are several); the UI's status file gets the primary
 * route's mapping (the one it knows: its topic and group).
 */
function statusReporter(out: Output, writer: EmulatorStatusWriter, routes: RouteRun[]): (route: string) => Reporter {
  const latest: Record<string, EmulatorStatus> = {};
  const primary = primaryRun(routes).mapping.route;
  return (route) => (st) => {
    latest[route] = st;
    if (route === primary) writer.update(st);
    if (!out.human) return void out.log.info(routes.length > 1 ? { route, status: st } : { status: st }, 'status');
    const several = routesLine(latest);
    process.stderr.write(`\r\x1b[2K${statusLine(mergeStatuses(Object.values(latest)))}${several && ` | ${several}`}`);
  };
}

type Reporter = (s: EmulatorStatus) => void;

function createEmulator(
  r: RunSettings,
  o: LocalOptions,
  config: Config,
  use: { invoke: Invoker; log: Logger; onStatus: Reporter; human: boolean },
): Emulator {
  const registry = o['schema-registry'];
  const decoder = registry ? new ConfluentJsonDecoder(registry) : undefined;
  return new Emulator({
    kafka: createKafka(config, 'quotes-sink-emulator'),
    invoke: use.invoke,
    log: use.log,
    topic: r.topic,
    groupId: r.groupId,
    bootstrapServers: config.KAFKA_BROKERS,
    startingPosition: r.startingPosition,
    startingTimestampMs: r.startingTimestampMs,
    batchSize: r.batchSize,
    windowMs: r.windowMs,
    source: r.source,
    retry: { attempts: r.attempts, baseMs: 200, capMs: o['backoff-cap-ms'] },
    policy: r.policy,
    stopWhen: o['until-idle'] ? { idleMs: o['idle-ms'], drained: !o.idleMsGiven } : 'signal',
    fetchMaxBytes: o['fetch-max-bytes'],
    partitionFetchMaxBytes: o['partition-fetch-max-bytes'],
    statusEveryMs: use.human ? 1_000 : 5_000,
    onStatus: use.onStatus,
    decode: decoder?.decode.bind(decoder),
  });
}

/** The primary route's run (the quotes route's, whose settings the flags and KAFKA_* name). */
const primaryRun = (runs: RouteRun[]): RouteRun => runs.find((r) => r.mapping.primary) ?? runs[0];

/**
 * One emulator per route's mapping, sharing one invoker (closed once, by the group). With one
 * route, the emulator logs as it always did; with several, each one's lines name its route.
 */
function createGroup(runs: RouteRun[], o: LocalOptions, config: Config, out: Output, writer: EmulatorStatusWriter) {
  const invoke = invoker(o, out);
  const report = statusReporter(out, writer, runs);
  const members = runs.map(({ mapping, settings }) => {
    const log = runs.length > 1 ? out.log.child({ route: mapping.route }) : out.log;
    const use = { invoke: sharedInvoker(invoke), log, onStatus: report(mapping.route), human: out.human };
    return { route: mapping.route, emulator: createEmulator(settings, o, config, use) };
  });
  return new EmulatorGroup(members, invoke, out.log);
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
function stopOnSignals(
  emulator: Pick<EmulatorGroup, 'stop' | 'status'>,
  log: Logger,
): { received(): NodeJS.Signals | undefined; dispose(): void } {
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

/** The final lines: every route's totals, and each route's part when there are several. */
function printDone(group: EmulatorGroup, status: EmulatorStatus): void {
  process.stderr.write(`${doneLine(status)}\n`);
  const several = routesLine(group.byRoute());
  if (several) process.stderr.write(`routes: ${several}\n`);
}

/** Runs an emulator per route until idle or signalled; the exit code. */
async function runEmulator(runs: RouteRun[], o: LocalOptions, config: Config, out: Output): Promise<number> {
  const primary = primaryRun(runs);
  const writer = new EmulatorStatusWriter({ topic: primary.settings.topic, groupId: primary.settings.groupId });
  const group = createGroup(runs, o, config, out, writer);
  const signals = stopOnSignals(group, out.log);
  try {
    const status = await group.run();
    writer.update(group.byRoute()[primary.mapping.route]); // the final totals, for the UI
    if (out.human) process.stderr.write('\r\x1b[2K');
    out.log.info({ status }, 'emulator stopped');
    printDone(group, status);
    const sig = signals.received();
    return sig ? signalExitCode(sig) : 0;
  } finally {
    writer.stop();
    signals.dispose();
    for (const r of runs) await r.settings.policy.destination?.close().catch(() => undefined);
    await new Promise<void>((resolve) => (out.file ? out.file.end(resolve) : resolve()));
  }
}

/** The banner's lines after the primary route's: where its settings came from, then every other route's mapping. */
function describeRoutes(runs: RouteRun[]): string[] {
  const lines = runs.filter((r) => r.mapping.primary).flatMap((r) => r.settings.describe);
  for (const { mapping: m, settings: s } of runs.filter((r) => !r.mapping.primary)) {
    const failure = s.policy.destination ? `, on failure ${s.policy.destination.uri}` : '';
    lines.push(`route ${m.route}: topic ${m.topic}, group ${m.groupId}${failure}`);
  }
  return lines;
}

async function main(argv: string[]): Promise<number> {
  const options = parseLocalOptions(argv);
  loadStackEnv();
  const config = loadConfig();
  const { routes } = loadSinkFile(sinkFilePath());
  let runs: RouteRun[];
  try {
    runs = await resolveRouteSettings(options, config, templateFile(options), routes);
  } catch (e) {
    if (!(e instanceof MappingRejectedError)) throw e;
    for (const line of e.lines) process.stderr.write(`local: ${line}\n`);
    return 2;
  }
  const primary = primaryRun(runs).settings;
  const out = output(config, options);
  if (primary.partialResponses) process.env.SINK_PARTIAL_BATCH_RESPONSE = 'true';
  printBanner('local', config, {
    topic: primary.topic,
    group: primary.groupId,
    stores: options.invoke === 'inprocess',
  });
  for (const line of describeRoutes(runs)) process.stderr.write(`[local] ${line}\n`);
  // Once, before consuming: a wrong password or a store that is down is one line now, not endless retries.
  const stores = options.invoke === 'inprocess' && !options['no-store-check'];
  await reachable(config, stores ? ['kafka', ...storesInUse(config)] : ['kafka']);
  // Records are named by Kafka's own cluster id, not by how the brokers are spelled (the handler
  // reads it from its environment, as a deployed function does from the clusterId param).
  process.env.SINK_CLUSTER_ID = await clusterIdOf(config, createKafka(config, 'quotes-sink-local'));
  return runEmulator(runs, options, config, out);
}

if (require.main === module) runMain('local', main);

export { UsageError };
