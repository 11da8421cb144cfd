/**
 * Where the handler's CPU goes: a V8 CPU profile (the same as `node --cpu-prof`) of processBatch
 * over N synthetic records with the real stores, summarised as self time per function and per
 * package or project file. The stores run in other processes, so this is the sink's own work.
 *
 *   node --expose-gc --import tsx bench/profile.ts [--records 20000] [--batch 1000] [--stores postgres,mongo] [--out FILE]
 *   node --expose-gc --import tsx bench/profile.ts --plain [--json] …   (the CPU time only; the benchmark's CPU probe)
 *
 * `--out` also writes the raw .cpuprofile (open it in Chrome DevTools or speedscope for a flame
 * graph). Writes into a fresh table and collection, dropped at the end.
 */
import { writeFileSync } from 'node:fs';
import { Session, type Profiler } from 'node:inspector';
import { z } from 'zod';
import { defineCommand, intFlag, parseCommand } from '../tools/cli/args';
import { runMain } from '../tools/cli/main';
import { loadConfig, loadStackEnv } from '../lib/config';
import { buildEvent } from '../tools/emulator/event';
import { quotesRoute } from '../lib/routes/default';
import { processBatch } from '../lib/sink/batch';
import { openStores } from '../lib/stores';
import { dropStores, syntheticRecords } from './common';
import type { CpuProbe } from './report';

/** The sink file's quotes route, as the function sinks quotes. */
const quoteType = quotesRoute();

export const PROFILE = defineCommand({
  command: 'node --expose-gc --import tsx bench/profile.ts',
  summary: [
    "Where the handler's CPU goes: a V8 CPU profile of processBatch over N synthetic records with the real",
    'stores, as self time per function and per package or project file.',
  ].join('\n'),
  flags: {
    records: { type: 'string', value: 'N', help: 'records in all (default 20,000)' },
    batch: { type: 'string', value: 'N', help: 'records per batch (default 1,000)' },
    stores: { type: 'string', value: 'LIST', help: 'the stores written, as SINK_STORES (default postgres,mongo)' },
    chunk: { type: 'string', value: 'N', help: "the sink's write chunk (default: the sink's own)" },
    out: { type: 'string', value: 'FILE', help: 'also write the raw .cpuprofile to FILE' },
    top: { type: 'string', value: 'N', help: 'lines in each table (default 25)' },
    plain: { type: 'boolean', help: "the CPU time only, without the profiler's overhead" },
    json: { type: 'boolean', help: 'one JSON line (a CpuProbe) instead of the sentence (the benchmark reads it)' },
  },
  schema: z
    .object({
      records: intFlag(1).default('20000'),
      batch: intFlag(1).default('1000'),
      stores: z.string().min(1).default('postgres,mongo'),
      chunk: intFlag(1).optional(),
      out: z.string().min(1).optional(),
      top: intFlag(1).default('25'),
      plain: z.boolean().default(false),
      json: z.boolean().default(false),
    })
    .strict(),
  notes: [
    [
      '--out FILE opens in Chrome DevTools or speedscope as a flame graph. `--plain --json` is the',
      "benchmark's CPU probe. Writes into a fresh table and collection, dropped at the end.",
    ].join('\n'),
  ],
});
type Options = z.infer<typeof PROFILE.schema>;

const post = <T>(s: Session, method: string, params?: object): Promise<T> =>
  new Promise((resolve, reject) => s.post(method, params, (e, r) => (e ? reject(e) : resolve(r as T))));

/** Where a profile node's code lives: an npm package, a project file, or V8/Node itself. */
function placeOf(url: string): string {
  if (!url) return '(native / garbage collector / idle)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const parts = url.slice(nm + 'node_modules/'.length).split('/');
    return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
  }
  if (url.startsWith('node:')) return url;
  const m = /\/(lib|bench|handlers)\/.*$/.exec(url);
  return m ? m[0].slice(1) : url;
}

/** Self time per key, in ms, largest first. */
function selfTimes(p: Profiler.Profile, key: (n: Profiler.ProfileNode) => string): [string, number][] {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const hits = new Map<number, number>();
  for (const s of p.samples ?? []) hits.set(s, (hits.get(s) ?? 0) + 1);
  const totalUs = p.endTime - p.startTime;
  const perSample = totalUs / Math.max(1, p.samples?.length ?? 1) / 1000;
  const out = new Map<string, number>();
  for (const [id, n] of hits) {
    const k = key(byId.get(id) as Profiler.ProfileNode);
    out.set(k, (out.get(k) ?? 0) + n * perSample);
  }
  return [...out].sort((a, b) => b[1] - a[1]);
}

async function main(argv: string[]): Promise<void> {
  const o: Options = parseCommand(PROFILE, argv);
  loadStackEnv();
  const n = o.records;
  const batch = o.batch;
  const run = `benchprof_${Date.now().toString(36)}`;
  const config = loadConfig({
    ...process.env,
    POSTGRES_QUOTES_TABLE: run,
    POSTGRES_DEAD_LETTER_TABLE: `${run}_dl`,
    MONGO_COLLECTION: run,
    SINK_STORES: o.stores,
    LOG_LEVEL: 'warn',
  });
  const stores = openStores(config, quoteType);
  const names = o.stores.split(',');
  const used = { records: stores.records.filter((s) => names.includes(s.name)), deadLetters: stores.deadLetters };
  const records = syntheticRecords(n, 2024, (i) => ({ partition: i % 3, offset: Math.floor(i / 3) }));
  const events = [];
  for (let i = 0; i < n; i += batch)
    events.push(JSON.parse(JSON.stringify(buildEvent('self-managed', '127.0.0.1:9092', records.slice(i, i + batch)))));
  // Warm-up on other offsets: connections, schema, JIT.
  await processBatch(
    buildEvent(
      'self-managed',
      '127.0.0.1:9092',
      syntheticRecords(batch, 1, (i) => ({ partition: 5, offset: i })),
    ),
    quoteType,
    used,
    { tombstones: 'skip' },
  );
  const session = new Session();
  session.connect();
  if (!o.plain) {
    await post(session, 'Profiler.enable');
    await post(session, 'Profiler.setSamplingInterval', { interval: 200 });
    await post(session, 'Profiler.start');
  }
  global.gc?.();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const writeChunk = o.chunk;
  for (const ev of events) await processBatch(ev, quoteType, used, { tombstones: 'skip', writeChunk });
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const { profile } = o.plain
    ? { profile: undefined }
    : await post<{ profile: Profiler.Profile }>(session, 'Profiler.stop');
  session.disconnect();
  await dropStores([config]);
  await stores.close();
  printResult(o, wall, cpu, profile);
}

/** Prints the run: one JSON probe (`--json`), or the times and, when profiled, the top self times. */
function printResult(o: Options, wall: number, cpu: NodeJS.CpuUsage, profile: Profiler.Profile | undefined): void {
  const n = o.records;
  const batch = o.batch;
  const cpuMs = (cpu.user + cpu.system) / 1000;
  if (o.json) {
    const probe: CpuProbe = {
      batchSize: batch,
      records: n,
      stores: o.stores,
      wallMs: wall,
      cpuMs,
      cpuMsPer1k: (cpuMs * 1000) / n,
    };
    console.log(JSON.stringify(probe));
    return;
  }
  console.log(
    `${n} records, batch ${batch}, stores ${o.stores}: wall ${wall.toFixed(0)} ms (${Math.round((n * 1000) / wall)} records/s), CPU ${cpuMs.toFixed(0)} ms = ${((cpuMs * 1000) / n).toFixed(1)} ms per 1,000 records (user ${((cpu.user / n) * 1).toFixed(1)}, system ${((cpu.system / n) * 1).toFixed(1)})`,
  );
  if (!profile) return;
  if (o.out) writeFileSync(o.out, JSON.stringify(profile));
  const top = o.top;
  console.log('\nself time by place (ms):');
  for (const [k, ms] of selfTimes(profile, (x) => placeOf(x.callFrame.url)).slice(0, top))
    console.log(`  ${ms.toFixed(0).padStart(7)}  ${k}`);
  console.log('\nself time by function (ms):');
  const fn = (x: Profiler.ProfileNode) =>
    `${x.callFrame.functionName || '(anonymous)'}  ${placeOf(x.callFrame.url)}:${x.callFrame.lineNumber + 1}`;
  for (const [k, ms] of selfTimes(profile, fn).slice(0, top)) console.log(`  ${ms.toFixed(0).padStart(7)}  ${k}`);
}

if (require.main === module) runMain('bench profile', main);
