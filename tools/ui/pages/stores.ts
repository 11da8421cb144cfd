/** Stores: row and document counts; a consistency check over an offset range, with repair. */
import { formatCoordinates, NO_CLUSTER } from '../../../lib/event/coordinates';
import { identityKey, MAX_RANGE_OFFSETS, type OffsetRange, type StoredIdentity } from '../../../lib/sink/inspect';
import { compareStores, repairStores, type RangeDiff, type RepairResult } from '../consistency';
import type { StoreView, UiContext, UiRoute } from '../context';
import { offsetRanges } from '../fate';
import { html, layout, query, type Html } from '../html';
import {
  contextLine,
  dataTable,
  intParam,
  notice,
  page,
  routeParam,
  topicParam,
  topicPartitionFields,
  type UiRequest,
  type UiResponse,
} from '../route';

/** Coordinates listed one by one up to this many per direction; the rest as ranges. */
const LISTED = 200;

/** One record store's row of the counts: its records of `topic` and of every topic. */
async function countRow(s: StoreView, topic: string): Promise<Html> {
  const [ofTopic, all] = await Promise.all([s.inspector.count(topic), s.inspector.count()]);
  return html`<tr data-store="${s.name}">
    <td>${s.label} ${s.unit}s <code>${s.where}</code></td>
    <td class="num topic-count">${ofTopic}</td>
    <td class="num">${all}</td>
  </tr>`;
}

async function countsTable(ctx: UiContext, route: UiRoute, topic: string): Promise<Html> {
  const [rows, dlTopic, dlAll] = await Promise.all([
    Promise.all(route.stores.map((s) => countRow(s, topic))),
    ctx.deadLetters.countByKind(topic),
    ctx.deadLetters.countByKind(),
  ]);
  const sum = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);
  const byKind = Object.entries(dlTopic).map(([k, n]) => html`<span class="tag kind">${k}</span> ${n} `);
  const c = ctx.config;
  return html`<table class="counts">
    <thead>
      <tr>
        <th>store</th>
        <th>of topic ${topic}</th>
        <th>all topics</th>
      </tr>
    </thead>
    <tbody>
      ${rows}
      <tr data-store="dead-letters">
        <td>dead letters <code>${c.POSTGRES_SCHEMA}.${c.POSTGRES_DEAD_LETTER_TABLE}</code> ${byKind}</td>
        <td class="num topic-count">${sum(dlTopic)}</td>
        <td class="num">${sum(dlAll)}</td>
      </tr>
    </tbody>
  </table>`;
}

/** The read sides the consistency check compares: every record store's of the route, and the dead letters'. */
const inspectorsOf = (ctx: UiContext, route: UiRoute) => ({
  records: route.stores.map((s) => s.inspector),
  deadLetters: ctx.deadLetters,
});

interface Check {
  route: UiRoute;
  topic: string;
  partition?: number;
  from?: number;
  to?: number;
}

/** The ranges to compare: the chosen partitions, over [from, to] or their whole offsets (capped). */
async function rangesOf(ctx: UiContext, c: Check): Promise<OffsetRange[]> {
  const parts = (await ctx.kafka.offsets(c.topic)).filter(
    (p) => c.partition === undefined || p.partition === c.partition,
  );
  return parts.map((p) => {
    const from = c.from ?? p.low;
    const to = c.to ?? Math.max(from, Math.min(p.high - 1, from + MAX_RANGE_OFFSETS - 1));
    return { topic: c.topic, partition: p.partition, from, to };
  });
}

/** The cluster key a record's identity holds, as a tag: what tells two clusters' records at one offset apart. */
const clusterTag = (cluster: string): Html =>
  cluster === NO_CLUSTER
    ? html`<span class="tag cluster" title="decoded without a cluster key">no cluster</span>`
    : html`<span class="tag cluster" title="cluster key">${cluster}</span>`;

function missingList(d: RangeDiff, missing: StoredIdentity[], where: string): Html | string {
  if (missing.length === 0) return '';
  const listed = missing.slice(0, LISTED).map((i) => {
    const { offset } = i.coordinates;
    return html`<li data-identity="${identityKey(i)}">
      <a href="/records${query({ topic: d.topic, partition: d.partition, from: offset, limit: 1 })}"
        ><code>${formatCoordinates(i.coordinates)}</code></a
      >
      ${clusterTag(i.cluster)}
    </li>`;
  });
  const rest = [...new Set(missing.slice(LISTED).map((i) => i.coordinates.offset))];
  const more =
    missing.length > LISTED ? html`<li>… ${missing.length - LISTED} more (offsets ${offsetRanges(rest)})</li>` : '';
  return html`<div class="missing" data-missing="${where}" data-partition="${d.partition}">
    <strong>${where}</strong> (${missing.length})
    <ul>
      ${listed}${more}
    </ul>
  </div>`;
}

/** The records one store lacks, or none: `missing` is how many, all stores told. */
const missingCount = (d: RangeDiff): number => Object.values(d.missing).reduce((n, m) => n + m.length, 0);

/** What a range's differences list says of the records `s` lacks: where they are, and that it lacks them. */
function missingLabel(s: StoreView, stores: readonly StoreView[]): string {
  const others = stores.filter((o) => o !== s);
  return `in ${others.length === 1 ? others[0].label : 'another store'}, missing from ${s.label}`;
}

function differences(d: RangeDiff, stores: readonly StoreView[]): Html {
  if (missingCount(d) + d.differing.length === 0) return html`<span class="ok">consistent</span>`;
  return html`${stores.map((s) => missingList(d, d.missing[s.name] ?? [], missingLabel(s, stores)))}${missingList(d, d.differing, `in ${stores.length === 2 ? 'both' : 'two stores'}, with different content (not repaired)`)}`;
}

function diffTable(diffs: RangeDiff[], stores: readonly StoreView[]): Html {
  const rows = diffs.map(
    (d) =>
      html`<tr data-partition="${d.partition}" data-differences="${missingCount(d) + d.differing.length}">
        <td>${d.partition}</td>
        <td class="num">${d.from}..${d.to}</td>
        ${stores.map((s) => html`<td class="num">${d.stored[s.name] ?? 0}</td>`)}
        <td class="num">${d.deadLetters}</td>
        <td>${differences(d, stores)}</td>
      </tr>`,
  );
  const head = ['partition', 'offsets', ...stores.map((s) => s.label), 'dead letters', 'differences'];
  return dataTable('consistency', head, rows);
}

function checkForm(
  c: Check,
  partitions: number[],
  topics: string[],
  stores: readonly StoreView[],
  diffs?: RangeDiff[],
): Html {
  const toRepair = diffs?.reduce((n, d) => n + missingCount(d), 0) ?? 0;
  const params = html`<input type="hidden" name="route" value="${c.route.name}" /><input
      type="hidden"
      name="topic"
      value="${c.topic}"
    /><input type="hidden" name="partition" value="${c.partition ?? ''}" />
    <input type="hidden" name="from" value="${c.from ?? ''}" /><input type="hidden" name="to" value="${c.to ?? ''}" />`;
  const repair = toRepair
    ? html`<form method="post" action="/stores/repair" class="repair">
        ${params}<button class="repair">repair ${toRepair} record(s) from the stored payload</button>
      </form>`
    : '';
  return html`<form method="get" class="filters">
      <input type="hidden" name="route" value="${c.route.name}" />
      ${topicPartitionFields(topics, c.topic, partitions, c.partition, 'all')}
      <label>from offset <input type="number" min="0" name="from" value="${c.from ?? ''}" placeholder="low" /></label>
      <label>to offset <input type="number" min="0" name="to" value="${c.to ?? ''}" placeholder="high − 1" /></label>
      <button name="check" value="1">check consistency</button>
    </form>
    ${diffs ? diffTable(diffs, stores) : ''}${repair}`;
}

function checkOf(ctx: UiContext, q: URLSearchParams): Check {
  const opt = (name: string, max: number) => (q.get(name) ? intParam(q, name, 0, 0, max) : undefined);
  return {
    route: routeParam(ctx, q),
    topic: topicParam(ctx, q),
    partition: opt('partition', 1_000_000),
    from: opt('from', Number.MAX_SAFE_INTEGER),
    to: opt('to', Number.MAX_SAFE_INTEGER),
  };
}

async function render(ctx: UiContext, c: Check, check: boolean, message?: Html): Promise<UiResponse> {
  const [topics, parts, counts] = await Promise.all([
    ctx.kafka.topics(),
    ctx.kafka.offsets(c.topic),
    countsTable(ctx, c.route, c.topic),
  ]);
  const diffs = check ? await compareStores(inspectorsOf(ctx, c.route), await rangesOf(ctx, c)) : undefined;
  const body = html`${message}
    <h2>Counts</h2>
    ${counts}
    <h2>Consistency</h2>
    <p>
      Every record that is not a dead letter or a tombstone should be in both stores. The check compares the records of
      an offset range (at most ${MAX_RANGE_OFFSETS} per partition) by identity (cluster, topic, partition, offset: two
      clusters' records at one offset are two records) and lists those present in one store and missing from the other;
      repair writes exactly those into the store that lacks them, through the sink's own adapters.
    </p>
    ${checkForm(
      c,
      parts.map((p) => p.partition),
      topics,
      c.route.stores,
      diffs,
    )}`;
  return page(layout({ title: 'Stores', current: '/stores', body, context: contextLine(ctx, c.route) }));
}

/** GET /stores?route&topic&partition&from&to&check: the route's stores (default the quotes route's). */
export function storesPage(ctx: UiContext, req: UiRequest): Promise<UiResponse> {
  const q = req.url.searchParams;
  return render(ctx, checkOf(ctx, q), q.get('check') === '1');
}

const repairMessage = (r: RepairResult, stores: readonly StoreView[]): Html => {
  const text = `repaired: ${stores.map((s) => `${r.written[s.name] ?? 0} written to ${s.label}`).join(', ')}`;
  if (r.failed.length === 0) return notice(text, 'ok');
  return html`${notice(`${text}; ${r.failed.length} could not be repaired`, 'error')}
    <ul class="failed">
      ${r.failed.map((f) => html`<li><code>${f.identity}</code>: ${f.reason}</li>`)}
    </ul>`;
};

/** POST /stores/repair: compares the range again, then writes what one store lacks from the other. */
export async function repairPage(ctx: UiContext, req: UiRequest): Promise<UiResponse> {
  const c = checkOf(ctx, req.form);
  const diffs = await compareStores(inspectorsOf(ctx, c.route), await rangesOf(ctx, c));
  const result = await repairStores(inspectorsOf(ctx, c.route).records, c.route.recordStores(), diffs);
  return render(ctx, c, true, repairMessage(result, c.route.stores));
}
