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

/** What each ratio should reach (BENCHMARKS.md explains the two that FerretDB keeps out of reach). */
export const TARGETS = { handler_vs_limit: 0.7, handler_vs_naive: 20, e2e_vs_handler: 0.8, replay_vs_first: 1 };

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
  memory: { batchSize: number; probes: MemoryProbe[] };
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
  const median = probes[Math.floor(probes.length / 2)];
  return {
    batchSize: memory.batchSize,
    eventMb: median.eventMb,
    baselineRssMb: median.baselineRssMb,
    peakRssMb: median.peakRssMb,
    growthMb: median.maxDeltaMb,
    growthPerEventSize: round(median.maxDeltaMb / median.eventMb, 1),
    budgetMb: round(MEMORY_BUDGET_PER_EVENT_SIZE * median.eventMb + median.baselineRssMb, 1),
    withinBudget: median.maxDeltaMb <= MEMORY_BUDGET_PER_EVENT_SIZE * median.eventMb,
    probesGrowthMb: probes.map((p) => p.maxDeltaMb),
    inBenchProcessPeakRssMb: inBenchProcess?.peakRssMb ?? null,
  };
}

/** The report of a run: rates, ratios to the baselines and the memory budget (no I/O). */
export function buildReport(r: BenchResults) {
  const handler = r.handler.runs.map(summariseHandlerRun);
  const replay = r.handler.replay && summariseHandlerRun(r.handler.replay);
  const reference = handler.find((h) => h.batchSize === r.handler.referenceBatchSize) ?? handler[handler.length - 1];
  const naive = { recordsPerSec: rate(r.naive) };
  const limits = {
    copyRps: rate(r.limits.copy),
    insertManyRps: rate(r.limits.insertMany),
    combinedRps: rate(r.limits.combined),
  };
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
    endToEnd,
    memory: memoryReport(
      r.memory,
      handler.find((h) => h.batchSize === MEMORY_BATCH_SIZE),
    ),
    ratios: {
      handler_vs_limit: round(reference.recordsPerSec / limits.combinedRps, 2),
      handler_vs_naive: round(reference.recordsPerSec / naive.recordsPerSec, 1),
      e2e_vs_handler: round(endToEnd.recordsPerSec / reference.recordsPerSec, 2),
      // The replay is measured at the reference batch size, so `reference` is its first write.
      replay_vs_first: replay ? round(replay.recordsPerSec / reference.recordsPerSec, 2) : null,
    },
    targets: TARGETS,
  };
}

/** The JSON written to bench/results/. */
export type BenchReport = ReturnType<typeof buildReport>;

/** The table printed at the end of a run, as lines. */
export function formatReport(report: BenchReport): string[] {
  const line = (a: string, b: string | number) => `${a.padEnd(44)} ${String(b)}`;
  const split = (h: HandlerRun) => `decode/pg/mongo ${h.splitMs.decode}/${h.splitMs.postgres}/${h.splitMs.mongo} ms`;
  const { machine: mc, limits, replay, memory: m } = report;
  return [
    '',
    `quotes-sink benchmark, ${report.records} records, ${mc.cpus} CPUs, ${mc.stack} stack (${mc.mongoServer})`,
    line('naive loop (INSERT + insertOne per record)', `${report.naive.recordsPerSec} rec/s`),
    line('postgres COPY', `${limits.copyRps} rec/s`),
    line('mongo insertMany', `${limits.insertManyRps} rec/s`),
    line('both at once (combined limit)', `${limits.combinedRps} rec/s`),
    ...report.handler.map((h) =>
      line(
        `handler, batch ${h.batchSize}`,
        `${h.recordsPerSec} rec/s  p50 ${h.p50Ms} ms  p99 ${h.p99Ms} ms  ${split(h)}  peak RSS ${h.peakRssMb} MB`,
      ),
    ),
    ...(replay ? [line(`replay, batch ${replay.batchSize}`, `${replay.recordsPerSec} rec/s  ${split(replay)}`)] : []),
    line('raw kafkajs read', `${report.endToEnd.rawKafkaReadRps} rec/s`),
    line(`end to end (emulator, batch ${report.endToEnd.emulatorBatchSize})`, `${report.endToEnd.recordsPerSec} rec/s`),
    '',
    ...Object.entries(report.ratios).map(([k, v]) =>
      line(`${k} (target ${report.targets[k as keyof typeof report.targets]})`, v ?? '-'),
    ),
    line(
      `handler RSS at batch ${m.batchSize}, own process`,
      `baseline ${m.baselineRssMb} MB, peak ${m.peakRssMb} MB: +${m.growthMb} MB = ${m.growthPerEventSize}x the ${m.eventMb} MB event (budget ${MEMORY_BUDGET_PER_EVENT_SIZE}x; probes ${m.probesGrowthMb.join('/')} MB)`,
    ),
  ];
}

/** Prints {@link formatReport} to stdout. */
export function printReport(report: BenchReport): void {
  for (const l of formatReport(report)) console.log(l);
}
