/**
 * The benchmark's results: what the measurements return, the pure report built from them (the
 * JSON written to bench/results/), and the table printed at the end.
 */

/** Handler batch sizes measured: small batches, the emulator's batch size and the largest we allow. */
export const HANDLER_BATCH_SIZES = [100, 1_000, 10_000] as const;

/** The emulator's batch size in the end-to-end run (a run of fewer records uses their number). */
export const EMULATOR_BATCH_SIZE = 1_000;

/** The largest batch the memory probes measure (bench/memory.ts): the size the budget is about. */
export const MEMORY_BATCH_SIZE = 10_000;

import type { ColdStartSample } from './cold-start';
import type { StorageSample } from './storage';

/** A ratio's target: at least `min`, or at most `max`. */
export type Target = { min: number } | { max: number };

/** The ratios of one run (null where the run could not measure one). */
export interface Ratios {
  /** Handler at the reference batch size, Postgres only ÷ COPY of the same rows. */
  pg_lane_vs_copy: number;
  /** Handler at the reference batch size, Mongo only ÷ insertMany(ordered: false) of the same documents. */
  mongo_lane_vs_insertmany: number;
  /** Handler at the reference batch size, both stores ÷ the combined limit. */
  handler_vs_limit: number;
  /**
   * CPU time (user + system) of the handler's process per 1,000 records at batch 1,000 (both
   * stores), ms: the median of the CPU probes, each a fresh process running only the handler.
   */
  cpu_ms_per_1k_b1000: number | null;
  /** `require` of the bundle in a fresh node ÷ a bare `node -e ""` (medians). */
  require_vs_bare: number;
  /** The zip serverless packages, MB. */
  zip_mb: number;
  /** The handler's RSS growth at batch 10,000 ÷ the event's size (median of the probes). */
  rss_growth_vs_event_b10000: number;
  /** The Mongo document's BSON size ÷ the record's value size. */
  mongo_bytes_vs_value: number;
  handler_vs_naive: number;
  e2e_vs_handler: number;
  replay_vs_first: number | null;
  /** The `orders` route's lane ÷ the quotes' (both stores, the reference batch size, the same record count). */
  orders_vs_quotes: number | null;
}

/** The ratios a run is measured against before a change: bench/baseline.json. */
export interface Baseline {
  date: string;
  commit: string;
  note: string;
  ratios: Partial<Ratios>;
}

/**
 * What each ratio should reach (BENCHMARKS.md explains the misses). The CPU target is half the
 * baseline's, so it exists only when a baseline does.
 */
export function targetsFor(baseline: Baseline | undefined): Partial<Record<keyof Ratios, Target>> {
  const cpu = baseline?.ratios.cpu_ms_per_1k_b1000;
  return {
    pg_lane_vs_copy: { min: 0.6 },
    mongo_lane_vs_insertmany: { min: 0.9 },
    handler_vs_limit: { min: 0.9 },
    ...(cpu ? { cpu_ms_per_1k_b1000: { max: round(cpu / 2, 1) } } : {}),
    require_vs_bare: { max: 2 },
    zip_mb: { max: 1 },
    rss_growth_vs_event_b10000: { max: 3 },
    mongo_bytes_vs_value: { max: 1.5 },
    handler_vs_naive: { min: 20 },
    e2e_vs_handler: { min: 0.8 },
    replay_vs_first: { min: 1 },
  };
}

/** Whether `value` meets `target`. */
export const meets = (value: number, target: Target): boolean =>
  'min' in target ? value >= target.min : value <= target.max;

/** `≥ 0.6` or `≤ 3`. */
export const formatTarget = (target: Target): string => ('min' in target ? `≥ ${target.min}` : `≤ ${target.max}`);

/** The budget of the handler's RSS growth, in multiples of the event's size. */
export const MEMORY_BUDGET_PER_EVENT_SIZE = 3;

/** The machine and stack a run was made on. */
export interface MachineFacts {
  cpus: number;
  cpuModel: string | undefined;
  memoryGiB: number;
  node: string;
  stack: string;
  mongoServer: string;
}

/** `n` records in `ms` milliseconds. */
export interface Timed {
  records: number;
  ms: number;
}

/** The raw figures of one handler run: one processBatch call per event, one after another. */
export interface HandlerSamples extends Timed {
  batchSize: number;
  /** CPU time of the process (user + system) over the run. */
  cpuMs: number;
  /** Wall time of each event's processBatch. */
  latenciesMs: number[];
  /** The summaries' durations, summed over the events. */
  splitMs: { decode: number; postgres: number; mongo: number };
  baselineRss: number;
  peakRss: number;
  /** The size of the first event as JSON. */
  eventBytes: number;
}

/** One handler run as reported (an element of `handler`, or `replay`). */
export interface HandlerRun {
  batchSize: number;
  recordsPerSec: number;
  cpuMsPer1k: number;
  p50Ms: number;
  p99Ms: number;
  splitMs: { decode: number; postgres: number; mongo: number };
  peakRssMb: number;
  baselineRssMb: number;
  eventMb: number;
}

/** One line of bench/memory.ts's output: one probe process. */
export interface MemoryProbe {
  batchSize: number;
  eventMb: number;
  baselineRssMb: number;
  peakRssMb: number;
  maxDeltaMb: number;
}

/**
 * One line of `bench/profile.ts --plain --json`: the handler alone in a fresh process, as a Lambda
 * container runs it (the benchmark's own process holds every contender's data, whose garbage
 * collection its CPU time would include).
 */
export interface CpuProbe {
  batchSize: number;
  records: number;
  stores: string;
  wallMs: number;
  cpuMs: number;
  cpuMsPer1k: number;
}

/** Everything one run measured, before any figure is derived. */
export interface BenchResults {
  date: string;
  quick: boolean;
  records: number;
  machine: MachineFacts;
  /** The tutorial's loop, on the first `naive.records` records. */
  naive: Timed;
  limits: { copy: Timed; insertMany: Timed; combined: Timed };
  handler: {
    runs: HandlerSamples[];
    /** The first batch size's events written again (everything already present). */
    replay: HandlerSamples | undefined;
    /** The batch size the ratios compare at: see {@link referenceBatchSize}. */
    referenceBatchSize: number;
  };
  /** The handler at the reference batch size with one store each (`SINK_STORES`). */
  /** `orders`: the example's second route (bench/orders.ts), both stores; absent in results before it. */
  lanes: { postgres: HandlerSamples; mongo: HandlerSamples; orders?: HandlerSamples };
  storage: StorageSample;
  memory: { batchSize: number; probes: MemoryProbe[] };
  /** CPU probes in fresh processes, per batch size. */
  cpu: CpuProbe[];
  coldStart: ColdStartSample;
  endToEnd: { emulator: Timed; emulatorBatchSize: number; rawRead: Timed };
}

/** The handler batch sizes for `n` records: those that fit (or `n` itself, when even 100 does not). */
export function handlerBatchSizes(n: number): number[] {
  const sizes = HANDLER_BATCH_SIZES.filter((s) => s <= n);
  return sizes.length > 0 ? sizes : [n];
}

/**
 * The handler run every ratio is taken at, and where the replay is measured: the emulator's batch
 * size if the handler ran at it, else the largest handler batch below it (with 500 records the
 * emulator batches 500 and the handler ran at 100 only). The ratios then compare the handler and
 * the end-to-end run at like batch sizes, and the replay against the first write of the same events.
 */
export function referenceBatchSize(sizes: readonly number[], emulatorBatchSize: number): number {
  return sizes.filter((s) => s <= emulatorBatchSize).at(-1) ?? sizes[0];
}

const rate = (t: Timed) => Math.round((t.records * 1000) / t.ms);
const round = (x: number, decimals: number) => Math.round(x * 10 ** decimals) / 10 ** decimals;
/** Bytes to MB, rounded to `decimals`. */
export const toMb = (bytes: number, decimals = 0): number => round(bytes / 1048576, decimals);

/** The `p`th percentile (nearest rank) of `xs`, to 0.1. */
export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return round(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))], 1);
}

/** A handler run's rate, latency percentiles and memory. */
export function summariseHandlerRun(h: HandlerSamples): HandlerRun {
  return {
    batchSize: h.batchSize,
    recordsPerSec: rate(h),
    cpuMsPer1k: round((h.cpuMs * 1000) / h.records, 1),
    p50Ms: percentile(h.latenciesMs, 50),
    p99Ms: percentile(h.latenciesMs, 99),
    splitMs: {
      decode: Math.round(h.splitMs.decode),
      postgres: Math.round(h.splitMs.postgres),
      mongo: Math.round(h.splitMs.mongo),
    },
    peakRssMb: toMb(h.peakRss),
    baselineRssMb: toMb(h.baselineRss),
    eventMb: toMb(h.eventBytes, 2),
  };
}

/** The memory section: the median of the probes, against the event's size and the budget. */
function memoryReport(memory: BenchResults['memory'], inBenchProcess: HandlerRun | undefined) {
  const probes = [...memory.probes].sort((a, b) => a.maxDeltaMb - b.maxDeltaMb);
  const mid = probes[Math.floor(probes.length / 2)];
  return {
    batchSize: memory.batchSize,
    eventMb: mid.eventMb,
    baselineRssMb: mid.baselineRssMb,
    peakRssMb: mid.peakRssMb,
    growthMb: mid.maxDeltaMb,
    growthPerEventSize: round(mid.maxDeltaMb / mid.eventMb, 1),
    budgetMb: round(MEMORY_BUDGET_PER_EVENT_SIZE * mid.eventMb + mid.baselineRssMb, 1),
    withinBudget: mid.maxDeltaMb <= MEMORY_BUDGET_PER_EVENT_SIZE * mid.eventMb,
    probesGrowthMb: probes.map((p) => p.maxDeltaMb),
    inBenchProcessPeakRssMb: inBenchProcess?.peakRssMb ?? null,
  };
}

/** The CPU section: per batch size, the median of the fresh-process probes (ms per 1,000 records). */
function cpuReport(probes: readonly CpuProbe[]) {
  const sizes = [...new Set(probes.map((p) => p.batchSize))].sort((a, b) => a - b);
  return sizes.map((batchSize) => {
    const runs = probes.filter((p) => p.batchSize === batchSize).map((p) => round(p.cpuMsPer1k, 1));
    return { batchSize, cpuMsPer1k: median(runs), runs };
  });
}

/** The median of `xs`. */
export const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** The cold-start section: bundle, map and zip sizes, and the medians of the fresh processes. */
function coldStartReport(c: ColdStartSample) {
  return {
    bundleKb: Math.round(c.bundleBytes / 1024),
    mapKb: Math.round(c.mapBytes / 1024),
    zipKb: Math.round(c.zipBytes / 1024),
    zipFiles: c.zipFiles,
    requireMs: round(median(c.requireMs), 1),
    firstCallMs: c.firstCallMs ? round(median(c.firstCallMs), 1) : null,
    bareNodeMs: round(median(c.bareMs), 1),
  };
}

/** Each store's lane and the orders route's, summarised. */
const lanesReport = (l: BenchResults['lanes']) => ({
  postgres: summariseHandlerRun(l.postgres),
  mongo: summariseHandlerRun(l.mongo),
  orders: l.orders ? summariseHandlerRun(l.orders) : undefined,
});

/** The report of a run: rates, ratios to the limits and the baseline, memory and cold start (no I/O). */
export function buildReport(r: BenchResults, baseline?: Baseline) {
  const handler = r.handler.runs.map(summariseHandlerRun);
  const replay = r.handler.replay && summariseHandlerRun(r.handler.replay);
  const reference = handler.find((h) => h.batchSize === r.handler.referenceBatchSize) ?? handler[handler.length - 1];
  const naive = { recordsPerSec: rate(r.naive) };
  const limits = {
    copyRps: rate(r.limits.copy),
    insertManyRps: rate(r.limits.insertMany),
    combinedRps: rate(r.limits.combined),
  };
  const lanes = lanesReport(r.lanes);
  const coldStart = coldStartReport(r.coldStart);
  const memory = memoryReport(
    r.memory,
    handler.find((h) => h.batchSize === MEMORY_BATCH_SIZE),
  );
  const cpu = cpuReport(r.cpu);
  const b1000 = cpu.find((c) => c.batchSize === 1_000);
  const endToEnd = {
    recordsPerSec: rate(r.endToEnd.emulator),
    emulatorBatchSize: r.endToEnd.emulatorBatchSize,
    rawKafkaReadRps: rate(r.endToEnd.rawRead),
  };
  return {
    date: r.date,
    quick: r.quick,
    records: r.records,
    naiveRecords: r.naive.records,
    machine: r.machine,
    naive,
    limits,
    handler,
    replay,
    lanes,
    storage: r.storage,
    endToEnd,
    memory,
    cpu,
    coldStart,
    ratios: {
      pg_lane_vs_copy: round(lanes.postgres.recordsPerSec / limits.copyRps, 2),
      mongo_lane_vs_insertmany: round(lanes.mongo.recordsPerSec / limits.insertManyRps, 2),
      handler_vs_limit: round(reference.recordsPerSec / limits.combinedRps, 2),
      cpu_ms_per_1k_b1000: b1000 ? b1000.cpuMsPer1k : null,
      require_vs_bare: round(coldStart.requireMs / coldStart.bareNodeMs, 2),
      zip_mb: round(r.coldStart.zipBytes / 1048576, 2),
      rss_growth_vs_event_b10000: memory.growthPerEventSize,
      // The documents measured against their own values (a baseline run measured the sample against all values).
      mongo_bytes_vs_value: round(
        r.storage.mongo.documentBytes / (r.storage.mongo.valueBytes ?? r.storage.valueBytes),
        2,
      ),
      handler_vs_naive: round(reference.recordsPerSec / naive.recordsPerSec, 1),
      e2e_vs_handler: round(endToEnd.recordsPerSec / reference.recordsPerSec, 2),
      // The replay is measured at the reference batch size, so `reference` is its first write.
      replay_vs_first: replay ? round(replay.recordsPerSec / reference.recordsPerSec, 2) : null,
      orders_vs_quotes: lanes.orders ? round(lanes.orders.recordsPerSec / reference.recordsPerSec, 2) : null,
    } satisfies Ratios,
    targets: targetsFor(baseline),
    baseline: baseline ?? null,
  };
}

/** The JSON written to bench/results/. */
export type BenchReport = ReturnType<typeof buildReport>;

/** The table printed at the end of a run, as lines. */
export function formatReport(report: BenchReport): string[] {
  const line = (a: string, b: string | number) => `${a.padEnd(44)} ${String(b)}`;
  const split = (h: HandlerRun) => `decode/pg/mongo ${h.splitMs.decode}/${h.splitMs.postgres}/${h.splitMs.mongo} ms`;
  const run = (h: HandlerRun) =>
    `${h.recordsPerSec} rec/s  cpu ${h.cpuMsPer1k} ms/1k (this process)  p50 ${h.p50Ms} ms  p99 ${h.p99Ms} ms  ${split(h)}  peak RSS ${h.peakRssMb} MB`;
  const { machine: mc, limits, replay, memory: m, lanes, storage: st, coldStart: cs, cpu } = report;
  const targets = report.targets as Partial<Record<string, Target>>;
  const base = (report.baseline?.ratios ?? {}) as Partial<Record<string, number | null>>;
  return [
    '',
    `quotes-sink benchmark, ${report.records} records, ${mc.cpus} CPUs, ${mc.stack} stack (${mc.mongoServer})`,
    line('naive loop (INSERT + insertOne per record)', `${report.naive.recordsPerSec} rec/s`),
    line('postgres COPY', `${limits.copyRps} rec/s`),
    line('mongo insertMany', `${limits.insertManyRps} rec/s`),
    line('both at once (combined limit)', `${limits.combinedRps} rec/s`),
    ...report.handler.map((h) => line(`handler, batch ${h.batchSize}`, run(h))),
    ...(replay ? [line(`replay, batch ${replay.batchSize}`, `${replay.recordsPerSec} rec/s  ${split(replay)}`)] : []),
    line(`handler, postgres only, batch ${lanes.postgres.batchSize}`, run(lanes.postgres)),
    line(`handler, mongo only, batch ${lanes.mongo.batchSize}`, run(lanes.mongo)),
    ...(lanes.orders ? [line(`handler, orders route, batch ${lanes.orders.batchSize}`, run(lanes.orders))] : []),
    line('raw kafkajs read', `${report.endToEnd.rawKafkaReadRps} rec/s`),
    line(`end to end (emulator, batch ${report.endToEnd.emulatorBatchSize})`, `${report.endToEnd.recordsPerSec} rec/s`),
    line(
      'bytes per record',
      `value ${st.valueBytes}, postgres row ${st.postgres.rowBytes} (table + indexes ${st.postgres.tableBytesPerRecord}), mongo document ${st.mongo.documentBytes}`,
    ),
    line(
      'bundle',
      `${cs.bundleKb} KiB (map ${cs.mapKb} KiB), zip ${cs.zipKb} KiB of ${cs.zipFiles.join(', ')}; require ${cs.requireMs} ms, require + first call ${cs.firstCallMs ?? '-'} ms, bare node ${cs.bareNodeMs} ms`,
    ),
    ...cpu.map((c) =>
      line(
        `handler CPU at batch ${c.batchSize}, own process`,
        `${c.cpuMsPer1k} ms per 1,000 records (probes ${c.runs.join('/')})`,
      ),
    ),
    line(
      `handler RSS at batch ${m.batchSize}, own process`,
      `baseline ${m.baselineRssMb} MB, peak ${m.peakRssMb} MB: +${m.growthMb} MB = ${m.growthPerEventSize}x the ${m.eventMb} MB event (probes ${m.probesGrowthMb.join('/')} MB)`,
    ),
    '',
    ...Object.entries(report.ratios).map(([k, v]) => {
      const t = targets[k];
      const was = base[k] !== undefined && base[k] !== null ? `, baseline ${base[k]}` : '';
      return line(`${k} (target ${t ? formatTarget(t) : '-'}${was})`, v ?? '-');
    }),
  ];
}

/** Prints {@link formatReport} to stdout. */
export function printReport(report: BenchReport): void {
  for (const l of formatReport(report)) console.log(l);
}
