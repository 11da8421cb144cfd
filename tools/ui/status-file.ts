/**
 * The emulator's live status, published as a file for the UI: one JSON file per running emulator
 * in `<stack dir>/emulators/<pid>.json`, replaced atomically (write a temporary file, rename) so a
 * reader never sees half of one. A file rather than an endpoint: the emulator opens no port, and
 * a status outlives its process long enough to say how the last run ended.
 *
 * The emulator calls {@link EmulatorStatusWriter.update} with its running totals (its status
 * callback) and {@link EmulatorStatusWriter.stop} when it ends; the UI calls
 * {@link readEmulatorStatuses}.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { STACK_DIR, STORE_NAMES } from '../../lib/config';

/** Where the status files are. */
export const EMULATOR_STATUS_DIR = path.join(STACK_DIR, 'emulators');
/** A running emulator whose file is older than this is taken for dead. */
export const DEFAULT_STALE_MS = 15_000;
/** Rate samples kept for the chart (about 5 minutes at one a second). */
export const DEFAULT_MAX_SAMPLES = 300;
/** The chart's resolution: updates closer together than this add no sample. */
const SAMPLE_EVERY_MS = 1_000;
/** Files of emulators that stopped or died this long ago are deleted by the next writer. */
const PRUNE_AFTER_MS = 24 * 3_600_000;

/** What the emulator hands over at each status tick (the running totals of its status). */
export interface EmulatorTotals {
  events: number;
  records: number;
  /** Records written, by store name. */
  written: Record<string, number>;
  alreadyPresent: number;
  deadLettered: number;
  /** Dead letters by error kind (`json`, `schema`, …), when the emulator counts them. */
  deadLettersByKind?: Record<string, number>;
  tombstones: number;
  retries: number;
  /** Records per second over the last status period. */
  rate: number;
  /** Lag by partition key (`<topic>-<partition>`). */
  lag: Record<string, number>;
}

const count = z.number().int().nonnegative();
const statusSchema = z.object({
  version: z.literal(1),
  pid: z.number().int(),
  topic: z.string(),
  groupId: z.string(),
  startedAt: z.string(),
  updatedAt: z.string(),
  state: z.enum(['running', 'stopped']),
  events: count,
  records: count,
  written: z.record(count),
  alreadyPresent: count,
  deadLettered: count,
  deadLettersByKind: z.record(count),
  tombstones: count,
  retries: count,
  rate: z.number().nonnegative(),
  lag: z.record(z.number()),
  /** `[epoch ms, records/s]`, oldest first. */
  samples: z.array(z.tuple([z.number(), z.number()])),
});

/** One emulator's status file. */
export type EmulatorStatusFile = z.infer<typeof statusSchema>;

/** A status file as the UI sees it: is that emulator still running? */
export interface EmulatorStatusView extends EmulatorStatusFile {
  live: boolean;
}

export interface StatusWriterOptions {
  topic: string;
  groupId: string;
  /** Default {@link EMULATOR_STATUS_DIR}. */
  dir?: string;
  pid?: number;
  maxSamples?: number;
  now?: () => number;
}

/** Writes `data` to `file` atomically: a reader sees the old content or the new, never a part. */
function writeAtomically(file: string, data: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, file);
}

/** The built-in stores at zero: what a status shows before the first event. */
const zeroPerStore = (): Record<string, number> => Object.fromEntries(STORE_NAMES.map((n) => [n, 0]));

/** Publishes one emulator's status; every call rewrites its file. Never throws: the UI is a bystander. */
export class EmulatorStatusWriter {
  readonly file: string;
  private readonly now: () => number;
  private readonly maxSamples: number;
  private status: EmulatorStatusFile;

  constructor(o: StatusWriterOptions) {
    const dir = o.dir ?? EMULATOR_STATUS_DIR;
    this.now = o.now ?? Date.now;
    this.maxSamples = o.maxSamples ?? DEFAULT_MAX_SAMPLES;
    const pid = o.pid ?? process.pid;
    this.file = path.join(dir, `${pid}.json`);
    const at = new Date(this.now()).toISOString();
    this.status = {
      ...{ version: 1, pid, topic: o.topic, groupId: o.groupId, startedAt: at, updatedAt: at, state: 'running' },
      ...{ events: 0, records: 0, written: zeroPerStore(), alreadyPresent: 0, deadLettered: 0 },
      ...{ deadLettersByKind: {}, tombstones: 0, retries: 0, rate: 0, lag: {}, samples: [] },
    };
    this.safely(() => {
      mkdirSync(dir, { recursive: true });
      pruneStatusFiles(dir, this.now());
    });
    this.write();
  }

  /**
   * Records the emulator's running totals (fields beyond {@link EmulatorTotals} are ignored) and,
   * at most once a second, a rate sample; rewrites the file each time.
   */
  update(t: EmulatorTotals): void {
    const now = this.now();
    const last = this.status.samples.at(-1);
    const samples =
      last && now - last[0] < SAMPLE_EVERY_MS
        ? this.status.samples
        : [...this.status.samples, [now, t.rate] as [number, number]];
    this.status = {
      ...this.status,
      ...{ events: t.events, records: t.records, alreadyPresent: t.alreadyPresent, deadLettered: t.deadLettered },
      ...{ tombstones: t.tombstones, retries: t.retries, rate: t.rate },
      written: { ...t.written },
      lag: { ...t.lag },
      deadLettersByKind: { ...(t.deadLettersByKind ?? this.status.deadLettersByKind) },
      samples: samples.slice(-this.maxSamples),
    };
    this.write();
  }

  /** Marks the run stopped (the UI then says no emulator is running, and shows how it ended). */
  stop(): void {
    this.status = { ...this.status, state: 'stopped', rate: 0 };
    this.write();
  }

  /** Deletes the file (for tests and throwaway runs). */
  remove(): void {
    this.safely(() => unlinkSync(this.file));
  }

  private write(): void {
    this.status.updatedAt = new Date(this.now()).toISOString();
    this.safely(() => writeAtomically(this.file, JSON.stringify(this.status)));
  }

  private safely(fn: () => void): void {
    try {
      fn();
    } catch {
      // A full disk or a read-only stack folder must not stop the emulator.
    }
  }
}

/** Whether process `pid` exists on this machine (signal 0 checks without signalling). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Parses one status file; undefined when it is not one (half-written by a foreign tool, or old). */
function readStatus(file: string): EmulatorStatusFile | undefined {
  try {
    const parsed = statusSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

const statusFiles = (dir: string): string[] => {
  try {
    return readdirSync(dir)
      .filter((f) => /^\d+\.json$/.test(f))
      .map((f) => path.join(dir, f));
  } catch {
    return [];
  }
};

/** Deletes status files not touched for a day. */
function pruneStatusFiles(dir: string, now: number): void {
  for (const f of statusFiles(dir)) {
    if (now - statSync(f).mtimeMs > PRUNE_AFTER_MS) unlinkSync(f);
  }
}

export interface StatusReadOptions {
  /** Only emulators of this topic. */
  topic?: string;
  dir?: string;
  staleMs?: number;
  now?: number;
}

/**
 * The emulators' statuses, the most recently updated first. `live` is false for a run that
 * stopped, whose process is gone, or whose file has not been updated for `staleMs`.
 */
export function readEmulatorStatuses(o: StatusReadOptions = {}): EmulatorStatusView[] {
  const now = o.now ?? Date.now();
  const staleMs = o.staleMs ?? DEFAULT_STALE_MS;
  const views: EmulatorStatusView[] = [];
  for (const f of statusFiles(o.dir ?? EMULATOR_STATUS_DIR)) {
    const s = readStatus(f);
    if (!s || (o.topic !== undefined && s.topic !== o.topic)) continue;
    const fresh = now - Date.parse(s.updatedAt) <= staleMs;
    views.push({ ...s, live: s.state === 'running' && fresh && processAlive(s.pid) });
  }
  return views.sort((a, b) => Date.parse(b.updatedAt) - Date.parse(a.updatedAt));
}
