/** Records: one partition from an offset, decoded, each with its fate in the stores. */
import { formatCoordinates, recordId } from '../../../lib/event/coordinates';
import type { StoredRecord } from '../../../lib/sink/inspect';
import type { StoreView, UiContext, UiRoute } from '../context';
import { fateLabel, fateOf, show, storedAs, type FateKind, type Found } from '../fate';
import { html, layout, pre, query, type Html } from '../html';
import type { KafkaRecord } from '../kafka-view';
import {
  contextLine,
  dataTable,
  intParam,
  page,
  routeParam,
  topicParam,
  topicPartitionFields,
  type UiRequest,
  type UiResponse,
} from '../route';

const MAX_LIMIT = 200;

/** A key, header or value, shown by what it is. */
function bytesCell(bytes: Buffer | null, empty: string): Html {
  const s = show(bytes);
  switch (s.as) {
    case 'none':
      return html`<span class="muted">${empty}</span>`;
    case 'binary':
      return html`<span class="tag">${s.bytes} bytes, not UTF-8</span> <code class="b64">${s.text}</code>`;
    case 'json':
      return html`<pre class="json">${pre(s.text)}</pre>`;
    case 'text':
      return html`<pre class="text">${pre(s.text)}</pre>`;
  }
}

const headersCell = (r: KafkaRecord): Html =>
  r.headers.length === 0
    ? html`<span class="muted">none</span>`
    : html`<dl class="headers">
        ${r.headers.map(
          ([k, v]) =>
            html`<dt>${k}</dt>
              <dd>${bytesCell(v, '')}</dd>`,
        )}
      </dl>`;

const storedDetails = (what: string, s: StoredRecord | undefined): Html | string =>
  s
    ? html`<details>
        <summary>${what}</summary>
        <pre class="json">${pre(JSON.stringify(s.raw, null, 2))}</pre>
      </details>`
    : '';

function fateCell(kind: FateKind, f: Found, stores: readonly StoreView[]): Html {
  const dl = f.deadLetter;
  const detail = dl
    ? html`<div><span class="tag kind">${dl.errorKind}</span> ${dl.error}</div>
        <div class="muted">
          failed ${dl.failedAt.toISOString()}${dl.replayedAt ? html` · replayed ${dl.replayedAt.toISOString()}` : ''} ·
          <a href="/dead-letters${query({ topic: dl.coordinates.topic, kind: dl.errorKind, replayed: 'on' })}"
            >dead letters</a
          >
        </div>`
    : '';
  return html`<td class="fate">
    <span class="fate-label">${fateLabel(kind, stores, f)}</span
    >${detail}${stores.map((s) => storedDetails(storedAs(s), f.stored[s.name]))}
  </td>`;
}

function recordRow(r: KafkaRecord, kind: FateKind, f: Found, stores: readonly StoreView[]): Html {
  return html`<tr data-offset="${r.offset}" data-fate="${kind}" class="fate-${kind}">
    <td class="num">${r.offset}</td>
    <td class="time">${new Date(r.timestamp).toISOString()}</td>
    <td>${bytesCell(r.key, 'no key')}</td>
    <td>${headersCell(r)}</td>
    <td class="value">${bytesCell(r.value, 'null (tombstone)')}</td>
    ${fateCell(kind, f, stores)}
  </tr>`;
}

interface Browse {
  topic: string;
  partition: number;
  from: number;
  limit: number;
  group: string;
  route: UiRoute;
}

/** The records of the browse, each with what the stores hold for it. */
async function recordsWithFates(ctx: UiContext, b: Browse): Promise<Html[]> {
  const records = await ctx.kafka.read(b.topic, b.partition, b.from, b.limit);
  const coordinates = records.map((r) => ({ topic: b.topic, partition: b.partition, offset: r.offset }));
  const parts = await ctx.kafka.offsets(b.topic);
  const [held, dl, group] = await Promise.all([
    Promise.all(b.route.stores.map((s) => s.inspector.find(coordinates))),
    ctx.deadLetters.find(coordinates),
    ctx.kafka.position(b.group, b.topic, parts),
  ]);
  const committed = group.partitions.find((p) => p.partition === b.partition)?.committed ?? -1;
  return records.map((r, i) => {
    const id = recordId(coordinates[i]);
    const stored = Object.fromEntries(b.route.stores.map((s, k) => [s.name, held[k].get(id)]));
    const found: Found = { stored, deadLetter: dl.get(id) };
    return recordRow(r, fateOf(r.offset, r.value === null, found, committed), found, b.route.stores);
  });
}

function browseForm(b: Browse, partitions: number[], topics: string[]): Html {
  return html`<form method="get" class="filters">
    <input type="hidden" name="route" value="${b.route.name}" />
    ${topicPartitionFields(topics, b.topic, partitions, b.partition)}
    <label>from offset <input name="from" type="number" min="0" value="${b.from}" /></label>
    <label>records <input name="limit" type="number" min="1" max="${MAX_LIMIT}" value="${b.limit}" /></label>
    <label>fate by group <input name="group" value="${b.group}" /></label>
    <button>show</button>
  </form>`;
}

/** GET /records?route&topic&partition&from&limit&group: fates in the route's stores (default the quotes route's). */
export async function recordsPage(ctx: UiContext, req: UiRequest): Promise<UiResponse> {
  const q = req.url.searchParams;
  const topic = topicParam(ctx, q);
  const route = routeParam(ctx, q);
  const b: Browse = {
    route,
    topic,
    partition: intParam(q, 'partition', 0, 0, 1_000_000),
    from: intParam(q, 'from', 0, 0, Number.MAX_SAFE_INTEGER),
    limit: intParam(q, 'limit', 50, 1, MAX_LIMIT),
    group: q.get('group')?.trim() || route.group,
  };
  const [topics, parts, rows] = await Promise.all([
    ctx.kafka.topics(),
    ctx.kafka.offsets(topic),
    recordsWithFates(ctx, b),
  ]);
  const part = parts.find((p) => p.partition === b.partition);
  const nav = html`<p class="pager">
    ${formatCoordinates({ topic, partition: b.partition, offset: b.from })} · partition offsets
    ${part?.low ?? 0}..${(part?.high ?? 0) - 1} ·
    <a
      href="/records${query({ route: route.name, topic, partition: b.partition, from: Math.max(0, b.from - b.limit), limit: b.limit, group: b.group })}"
      >previous</a
    >
    ·
    <a
      href="/records${query({ route: route.name, topic, partition: b.partition, from: b.from + b.limit, limit: b.limit, group: b.group })}"
      >next</a
    >
  </p>`;
  const table = rows.length
    ? dataTable('records', ['offset', 'timestamp', 'key', 'headers', 'value', 'fate'], rows)
    : html`<p class="muted">No records from this offset.</p>`;
  const body = html`${browseForm(
    b,
    parts.map((p) => p.partition),
    topics,
  )}${nav}${table}`;
  return page(layout({ title: 'Records', current: '/records', body, context: contextLine(ctx, route) }));
}
