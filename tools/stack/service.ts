/**
 * The native services' one lifecycle. Each service (postgres.ts, kafka.ts, ferretdb.ts, and the UIs
 * pgadmin.ts and mongo-express.ts) supplies a {@link NativeServiceSpec}; {@link defineNativeService}
 * turns it into what the stack runs.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { SpawnOptions } from 'node:child_process';
import { toStackError } from './errors';
import type { Mode } from './mode';
import {
  freePort,
  isAlive,
  logFile,
  logTail,
  pidFile,
  readPort,
  runningPid,
  shownPath,
  startDetached,
  stopService,
  waitUntil,
} from './proc';

export type ServiceName = 'postgres' | 'kafka' | 'ferretdb' | 'pgadmin' | 'mongo-express' | 'apicurio';

/** One service as `status` sees it. */
export interface ServiceState {
  /** A native service (postgres, kafka, ferretdb, pgadmin, mongo-express), or in external and docker mode kafka, postgres, mongo. */
  name: string;
  mode: Mode;
  /** host:port, or a URL with its password hidden. */
  address: string;
  /** Whether it answers there (a real request, not a port check). */
  up: boolean;
  /** The process this stack started or adopted; absent when something else serves the address. */
  pid?: number;
}

/** A process to start. */
export interface Command {
  cmd: string;
  args: string[];
  options?: SpawnOptions;
}

type Log = (m: string) => void;

/** What a native service supplies; the lifecycle (pid, port, start, wait, stop) is shared. */
export interface NativeServiceSpec {
  /** Also the name of its pid file and log in the stack folder. */
  name: ServiceName;
  /** Appears in its process's command line, so a recycled pid is never taken for ours. */
  marker: string;
  defaultPort: number;
  /** Where the port it was started on is kept (clients that outlive a restart find it again). */
  portFile: string;
  /** How long `up` waits for a started process to serve. */
  startTimeoutMs: number;
  stop: { graceMs: number; signal?: NodeJS.Signals };
  /** Installs, downloads or builds what it needs; cached, so fast the second time. */
  prepare(log: Log): Promise<void>;
  /** Runs before a start (nothing runs yet): storage, config files. May return a note for the log. */
  beforeStart?(port: number, log: Log): Promise<string | void>;
  command(port: number): Command | Promise<Command>;
  /** The address clients use (a broker list or a URL). */
  url(port: number): string;
  /** Whether it serves at `port`; read-only, as `status` uses it. */
  probe(port: number): Promise<boolean>;
  /** What `up` waits for, when more than {@link probe} (e.g. creating the topic). */
  readyProbe?(port: number): Promise<boolean>;
  /** Runs on every `up` once it serves (e.g. creating the database). */
  afterReady?(port: number, log: Log): Promise<void>;
  /** A process of this stack's data that the pid file does not name (a crashed `up`); read-only. */
  orphan?(): RunningProcess | undefined;
}

export interface RunningProcess {
  pid: number;
  port: number;
  /** Found through {@link NativeServiceSpec.orphan}, not the pid file. */
  orphan?: boolean;
}

/** What the stack runs for each native service. */
export interface NativeService {
  name: ServiceName;
  prepare(log: Log): Promise<void>;
  /** Starts it unless it runs already, waits until it serves, returns its address. */
  up(log: Log): Promise<string>;
  /** Stops the process this stack started (by pid); true if one was running. */
  down(): Promise<boolean>;
  /** Probes its address (port file, else default) whoever runs it. */
  status(): Promise<ServiceState>;
}

/** The process of `spec` that runs now, from its pid file or as an orphan. Reads only. */
export function findProcess(spec: NativeServiceSpec): RunningProcess | undefined {
  const pid = runningPid(spec.name, spec.marker);
  if (pid) return { pid, port: readPort(spec.portFile, spec.defaultPort) };
  const orphan = spec.orphan?.();
  return orphan && { ...orphan, orphan: true };
}

function record(spec: NativeServiceSpec, pid: number, port: number): void {
  mkdirSync(path.dirname(spec.portFile), { recursive: true });
  writeFileSync(pidFile(spec.name), `${pid}\n`);
  writeFileSync(spec.portFile, String(port));
}

/** Takes over an orphan (rather than start a second process on the same data, which would fail). */
function adopt(spec: NativeServiceSpec): RunningProcess | undefined {
  const found = findProcess(spec);
  if (found?.orphan) record(spec, found.pid, found.port);
  return found;
}

async function launch(spec: NativeServiceSpec, log: Log): Promise<RunningProcess> {
  const preferred = readPort(spec.portFile, spec.defaultPort);
  const port = await freePort(preferred);
  if (port !== preferred) {
    log(
      `127.0.0.1:${preferred} is in use by a process this stack did not start: starting a second ${spec.name} beside it`,
    );
  }
  const note = await spec.beforeStart?.(port, log);
  const { cmd, args, options } = await spec.command(port);
  log(`starting on 127.0.0.1:${port}${note ? ` (${note})` : ''}`);
  const pid = startDetached(spec.name, cmd, args, options);
  record(spec, pid, port);
  return { pid, port };
}

/**
 * The shared lifecycle: the running (or orphaned) process, else a free port → its pre-start hook →
 * a detached start → the port file; then waits for the probe, with the log's tail if it dies.
 */
export async function startNativeService(spec: NativeServiceSpec, log: Log): Promise<string> {
  const { pid, port } = adopt(spec) ?? (await launch(spec, log));
  const ready = spec.readyProbe ?? spec.probe;
  const died = () =>
    isAlive(pid)
      ? undefined
      : `the process exited; last lines of ${shownPath(logFile(spec.name))}:\n${logTail(spec.name)}`;
  await waitUntil(() => ready(port), spec.startTimeoutMs, died);
  await spec.afterReady?.(port, log);
  return spec.url(port);
}

/** Stops the service's process (adopting an orphan first); true if one ran. */
export function stopNativeService(spec: NativeServiceSpec): Promise<boolean> {
  return stopService(spec.name, adopt(spec)?.pid, spec.stop.graceMs, spec.stop.signal);
}

/** Probes the service's address; `pid` only when the process there is this stack's. */
export async function nativeStatus(spec: NativeServiceSpec): Promise<ServiceState> {
  const found = findProcess(spec);
  const port = found?.port ?? readPort(spec.portFile, spec.defaultPort);
  const up = await spec.probe(port).catch(() => false);
  return { name: spec.name, mode: 'native', address: `127.0.0.1:${port}`, up, pid: found?.pid };
}

/** The service `spec` describes; its errors are StackErrors naming it, and its log lines are prefixed with its name. */
export function defineNativeService(spec: NativeServiceSpec): NativeService {
  const prefixed = (log: Log) => (m: string) => log(`${spec.name}: ${m}`);
  const named = (e: unknown) => {
    throw toStackError(spec.name, e);
  };
  return {
    name: spec.name,
    prepare: (log) => spec.prepare(prefixed(log)).catch(named),
    up: (log) => startNativeService(spec, prefixed(log)).catch(named),
    down: () => stopNativeService(spec),
    status: () => nativeStatus(spec),
  };
}
