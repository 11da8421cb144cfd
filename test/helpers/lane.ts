/** A lane: a topic of 3 partitions, a consumer group, tables and a collection of one test's own. */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import type { Admin, ITopicConfig, KafkaMessage } from 'kafkajs';
import { PROJECT_ROOT } from '../../lib/config';
import { Emulator, type EmulatorOptions } from '../../tools/emulator/emulator';
import type { Invoker } from '../../tools/emulator/invoke';
import { createKafka } from '../../tools/kafka';
import { createLogger } from '../../lib/log';
import { uniqueName } from './env';
import { runCommand, TSX } from './run';
import { sandbox, type Sandbox } from './sink';

export interface Lane {
  sb: Sandbox;
  env: Record<string, string>;
  topic: string;
  /** A connected admin client (closed by `close`). */
  admin: Admin;
  close(): Promise<void>;
}

/** A lane whose topic gets `configEntries` (e.g. `message.timestamp.type`). */
export async function lane(name: string, configEntries: ITopicConfig['configEntries'] = []): Promise<Lane> {
  const sb = await sandbox(name);
  const topic = uniqueName(`t_${name}`);
  const kafka = createKafka(sb.config, 'pipeline-test');
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    waitForLeaders: true,
    topics: [{ topic, numPartitions: 3, replicationFactor: 1, configEntries }],
  });
  const env = { ...sb.env, KAFKA_TOPIC: topic, KAFKA_GROUP_ID: uniqueName('g'), LOG_LEVEL: 'warn' };
  return {
    sb,
    env,
    topic,
    admin,
    async close() {
      await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
      await admin.disconnect();
      await sb.close();
    },
  };
}

export const produce = async (l: Lane, args: string[]) => {
  const r = await runCommand(TSX, ['cli/produce.ts', ...args], l.env);
  assert.equal(r.code, 0, `produce failed:\n${r.stdout}${r.stderr}`);
  return r.stdout;
};
export const emulate = async (l: Lane, args: string[] = [], env: Record<string, string> = {}) => {
  const r = await runCommand(TSX, ['cli/local.ts', '--until-idle', ...args], { ...l.env, ...env }, 300_000);
  assert.equal(r.code, 0, `emulator failed:\n${r.stdout}${r.stderr}`);
  return r.stderr;
};

/** The JSON lines of a command's output (the logs), other lines skipped. */
export function jsonLines(text: string): Record<string, unknown>[] {
  return text.split('\n').flatMap((line) => {
    if (!line.startsWith('{')) return [];
    try {
      return [JSON.parse(line) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
}

/** The emulator CLI running in its own process group, its output captured. */
export interface RunningEmulator {
  child: ChildProcess;
  output(): string;
  /** Its exit code (null if killed by a signal). */
  exit: Promise<number | null>;
  /** Sends `signal` to its process group (tsx and the node process under it). */
  signal(signal: NodeJS.Signals): void;
}

/**
 * Starts `cli/local.ts` under node itself (not the tsx CLI, which relays signals to its child and
 * may send one twice), so a signal sent to the group reaches the emulator exactly once.
 */
export function startEmulator(l: Lane, args: string[] = [], env: Record<string, string> = {}): RunningEmulator {
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/local.ts', ...args], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...l.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const signal = (s: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) process.kill(-(child.pid as number), s);
  };
  return { child, output: () => out, exit, signal };
}

/** Resolves once `check` holds, polling; rejects after `timeoutMs` naming `what`. */
export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * The messages of `topic` from its beginning, in the order read, by a throwaway group: `n` of them,
 * by default every message it holds now (up to its current ends); rejects after 30 s.
 */
export async function readTopic(
  l: Lane,
  topic: string,
  n?: number,
): Promise<{ partition: number; message: KafkaMessage }[]> {
  const total = n ?? (await l.admin.fetchTopicOffsets(topic)).reduce((s, p) => s + Number(p.high) - Number(p.low), 0);
  const out: { partition: number; message: KafkaMessage }[] = [];
  if (total === 0) return out;
  const consumer = createKafka(l.sb.config, 'test-reader').consumer({
    groupId: uniqueName('read'),
    maxWaitTimeInMs: 200,
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ partition, message }) => void out.push({ partition, message }) });
    await until(`${total} messages of ${topic}`, () => out.length >= total, 30_000);
  } finally {
    await consumer.disconnect();
  }
  return out;
}

/** The committed offset per partition (-1: none) of the lane's group, or of `groupId`. */
export async function committedOffsets(l: Lane, groupId = l.env.KAFKA_GROUP_ID): Promise<Record<number, number>> {
  const [t] = await l.admin.fetchOffsets({ groupId, topics: [l.topic] });
  return Object.fromEntries(t.partitions.map((p) => [p.partition, Number(p.offset)]));
}

/**
 * The emulator in this process, on the lane's topic and group, calling `invoke` (e.g. a handler
 * built over decorated stores); drains until idle unless `over` says otherwise. Run it with `run()`.
 */
export function inProcessEmulator(l: Lane, invoke: Invoker, over: Partial<EmulatorOptions> = {}): Emulator {
  return new Emulator({
    kafka: createKafka(l.sb.config, 'test-emulator'),
    invoke,
    log: createLogger('silent'),
    topic: l.topic,
    groupId: l.env.KAFKA_GROUP_ID,
    bootstrapServers: l.sb.config.KAFKA_BROKERS,
    startingPosition: 'TRIM_HORIZON',
    batchSize: 250,
    windowMs: 500,
    source: 'self-managed',
    retry: { attempts: 'forever', baseMs: 200, capMs: 2_000 },
    stopWhen: { idleMs: 1_500 },
    ...over,
  });
}

/**
 * Runs `cli/local.ts` to its end in its own process group (see {@link startEmulator}); after
 * `timeoutMs` the whole group is killed and the promise rejects with its output.
 */
export async function runEmulator(
  l: Lane,
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 120_000,
): Promise<{ code: number | null; output: string }> {
  const e = startEmulator(l, args, env);
  const timer = setTimeout(() => e.signal('SIGKILL'), timeoutMs);
  const code = await e.exit;
  clearTimeout(timer);
  if (code === null) throw new Error(`emulator killed after ${timeoutMs / 1000}s:\n${e.output()}`);
  return { code, output: e.output() };
}
