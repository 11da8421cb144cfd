/** How the emulator's status and batches read on a terminal: one line each. */
import type { BatchSummary } from '../../lib/sink/batch';
import { leadCounts, type EmulatorStatus } from './status';

/** The live status line. */
export function statusLine(s: EmulatorStatus): string {
  const lag = Object.entries(s.lag)
    .map(([p, l]) => `${p.slice(p.lastIndexOf('-') + 1)}:${l}`)
    .join(' ');
  const lost = s.lostToRetention ? ` | ${s.lostToRetention} offsets lost to retention` : '';
  return `${s.rate} rec/s | ${totals(s)} | lag ${lag || '-'}${lost}`;
}

/** The totals, each part named; parts that are zero and optional are left out. */
export function totals(s: EmulatorStatus): string {
  const parts = [
    `${s.records} records`,
    // Each store writes every record: the larger count is the records written (one store may be unused).
    `${Math.max(0, ...Object.values(s.written))} written`,
    `${s.alreadyPresent} already there`,
    `${s.deadLettered + s.deadLettersAlreadyPresent} dead letters` +
      (s.deadLettersAlreadyPresent ? ` (${s.deadLettersAlreadyPresent} already there)` : ''),
  ];
  if (s.tombstones) parts.push(`${s.tombstones} tombstones`);
  if (s.filtered) parts.push(`${s.filtered} filtered out`);
  if (s.sentToDestination) parts.push(`${s.sentToDestination} sent to the destination`);
  if (s.dropped) parts.push(`${s.dropped} dropped (too old)`);
  if (s.retries) parts.push(`${s.retries} retries`);
  return parts.join(', ');
}

/** The run's average rate: records handled per second of the whole run. */
export const averageRate = (s: EmulatorStatus): number => Math.round((s.records * 1000) / Math.max(1, s.elapsedMs));

/** The last line: totals, the run's average rate and its length. */
export function doneLine(s: EmulatorStatus): string {
  const lost = s.lostToRetention ? `, ${s.lostToRetention} offsets lost to retention` : '';
  return `done: ${totals(s)}${lost} in ${(s.elapsedMs / 1000).toFixed(1)}s (average ${averageRate(s)} rec/s)`;
}

/** One batch the function handled, in a line: what it received and wrote. */
export function batchLine(s: BatchSummary): string {
  const dl = s.deadLettered.written + s.deadLettered.alreadyPresent;
  const parts = Object.entries(s.partitions ?? {})
    .map(([k, r]) => `${k}@${(r as { first: number }).first}..${(r as { last: number }).last}`)
    .join(' ');
  const lead = leadCounts(s);
  return (
    `batch ${s.received} records: ${lead.written} written, ${lead.alreadyPresent} already there, ` +
    `${dl} dead letters, ${s.tombstones.received} tombstones in ${Math.round(s.durationMs.total)} ms ${parts}`
  ).trimEnd();
}

/** Each route's part of the totals, when there are several: `quotes 1200 records (lag 0), orders 300 records (lag 12)`. */
export function routesLine(byRoute: Readonly<Record<string, EmulatorStatus>>): string {
  const parts = Object.entries(byRoute).map(([route, s]) => {
    const lag = Object.values(s.lag).reduce((n, l) => n + l, 0);
    return `${route} ${s.records} records (lag ${lag})`;
  });
  return parts.length > 1 ? parts.join(', ') : '';
}
