/**
 * `npm run local -- [options]`: the Kafka event source mapping emulator. Polls the topic with a
 * kafkajs consumer group and calls the sink function with events identical to AWS's.
 *
 *   --batch-size N          records per event, 1..10000 (default 100)
 *   --batch-window-ms MS    how long an event may wait to fill (default 500)
 *   --source S              self-managed (default) or msk: the event's shape
 *   --starting-position P   TRIM_HORIZON (default) or LATEST, for a new consumer group
 *   --invoke M              inprocess (default) or offline (serverless-offline's Lambda endpoint)
 *   --endpoint URL          offline endpoint (default http://localhost:3002)
 *   --function NAME         offline function name (default quotes-sink-local-sink)
 *   --max-attempts N        give up (exit 1) after N failed invocations of one event; 0 = forever (default)
 *   --backoff-cap-ms MS     longest wait between retries (default 30000)
 *   --fetch-max-bytes N     bytes per Kafka fetch (default 33554432)
 *   --partition-fetch-max-bytes N  bytes per partition per fetch (default 8388608)
 *   --until-idle            exit 0 once every partition is caught up for --idle-ms (default 1500)
 *   --log-file PATH         also write the JSON logs to PATH
 * Environment: KAFKA_TOPIC, KAFKA_GROUP_ID (default quotes-sink-local), and the sink's settings.
 */
import { createWriteStream } from 'node:fs';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { loadConfig, loadStackEnv } from '../lib/config';
import { DEFAULT_FETCH_MAX_BYTES, DEFAULT_PARTITION_FETCH_MAX_BYTES, runEmulator, type EmulatorStatus } from '../lib/emulator/emulator';
import { inProcessInvoker, offlineInvoker } from '../lib/emulator/invoke';
import { createLogger } from '../lib/log';

function intArg(name: string, v: string | undefined, def: number, min: number, max: number): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} takes a whole number from ${min} to ${max}`);
  return n;
}

function statusLine(s: EmulatorStatus): string {
  const lag = Object.entries(s.lag).map(([p, l]) => `${p.slice(p.lastIndexOf('-') + 1)}:${l}`).join(' ');
  return `${s.rate} rec/s | ${s.records} records, ${s.written.postgres} written, ${s.alreadyPresent} already there, ${s.deadLettered} dead letters | lag ${lag || '-'}`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'batch-size': { type: 'string' },
      'batch-window-ms': { type: 'string' },
      source: { type: 'string', default: 'self-managed' },
      'starting-position': { type: 'string', default: 'TRIM_HORIZON' },
      invoke: { type: 'string', default: 'inprocess' },
      endpoint: { type: 'string', default: 'http://localhost:3002' },
      function: { type: 'string', default: 'quotes-sink-local-sink' },
      'max-attempts': { type: 'string' },
      'backoff-cap-ms': { type: 'string' },
      'fetch-max-bytes': { type: 'string' },
      'partition-fetch-max-bytes': { type: 'string' },
      'until-idle': { type: 'boolean', default: false },
      'idle-ms': { type: 'string' },
      'log-file': { type: 'string' },
    },
  });
  loadStackEnv();
  const config = loadConfig();
  if (values.source !== 'msk' && values.source !== 'self-managed') throw new Error('--source is msk or self-managed');
  if (values['starting-position'] !== 'TRIM_HORIZON' && values['starting-position'] !== 'LATEST') throw new Error('--starting-position is TRIM_HORIZON or LATEST');
  if (values.invoke !== 'inprocess' && values.invoke !== 'offline') throw new Error('--invoke is inprocess or offline');

  const streams: pino.StreamEntry[] = [{ stream: process.stdout }];
  if (values['log-file']) streams.push({ stream: createWriteStream(values['log-file'], { flags: 'a' }) });
  const log = createLogger(config.LOG_LEVEL, 'quotes-sink-emulator', pino.multistream(streams));
  const tty = process.stderr.isTTY === true;

  const status = await runEmulator({
    config,
    topic: config.KAFKA_TOPIC,
    groupId: config.KAFKA_GROUP_ID,
    startingPosition: values['starting-position'],
    batchSize: intArg('batch-size', values['batch-size'], 100, 1, 10_000),
    windowMs: intArg('batch-window-ms', values['batch-window-ms'], 500, 0, 300_000),
    source: values.source,
    invoke: values.invoke === 'offline' ? offlineInvoker(values.endpoint, values.function) : inProcessInvoker(),
    retry: { maxAttempts: intArg('max-attempts', values['max-attempts'], 0, 0, 1_000_000), baseMs: 200, capMs: intArg('backoff-cap-ms', values['backoff-cap-ms'], 30_000, 10, 3_600_000) },
    fetchMaxBytes: intArg('fetch-max-bytes', values['fetch-max-bytes'], DEFAULT_FETCH_MAX_BYTES, 65_536, 1_073_741_824),
    partitionFetchMaxBytes: intArg('partition-fetch-max-bytes', values['partition-fetch-max-bytes'], DEFAULT_PARTITION_FETCH_MAX_BYTES, 65_536, 1_073_741_824),
    untilIdle: values['until-idle'],
    idleMs: intArg('idle-ms', values['idle-ms'], 1_500, 0, 600_000),
    log,
    statusEveryMs: tty ? 1_000 : 5_000,
    onStatus: (s) => {
      if (tty) process.stderr.write(`\r\x1b[2K${statusLine(s)}`);
      else if (!values['until-idle'] || s.elapsedMs % 5_000 < 250) log.info({ status: s }, 'status');
    },
  });
  if (tty) process.stderr.write('\n');
  log.info({ status }, 'emulator stopped');
  console.error(`done: ${statusLine(status)} in ${(status.elapsedMs / 1000).toFixed(1)}s`);
}

main().then(
  () => process.exit(0),
  (e: Error) => {
    console.error(`emulator failed: ${e.message}`);
    process.exit(1);
  },
);
