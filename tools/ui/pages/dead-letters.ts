/** Dead letters: a filterable list with the raw value, and replay of one or a selection. */
import { formatCoordinates, parseCoordinates } from '../../../lib/event/coordinates';
import type { DeadLetterFilter, DeadLetterRecord } from '../../../lib/sink/inspect';
import { RECORD_ERROR_KINDS, type RecordErrorKind } from '../../../lib/event/errors';
import type { UiContext } from '../context';
import { show } from '../fate';
import { html, layout, pre, query, type Html } from '../html';
import {
  contextLine,
  routeParam,
  dataTable,
  dateParam,
  intParam,
  notice,
  options,
  page,
  UiInputError,
  type UiRequest,
  type UiResponse,
} from '../route';

const KINDS: readonly RecordErrorKind[] = RECORD_ERROR_KINDS;
/** How many dead letters one replay may take (a selection, not a bulk tool: the CLI has --all). */
const MAX_REPLAY = 500;

function rawValue(d: DeadLetterRecord): Html {
  if (d.valueBase64 === null) return html`<span class="muted">(no value)</span>`;
  const s = show(Buffer.from(d.valueBase64, 'base64'));
  const text = s.as === 'none' ? '' : s.as === 'binary' ? `(${s.bytes} bytes, not UTF-8) ${s.text}` : s.text;
  return html`<pre class="raw">${pre(text)}</pre>
    <details>
      <summary>base64</summary>
      <code class="b64">${d.valueBase64}</code>
    </details>`;
}

function row(d: DeadLetterRecord): Html {
  const id = formatCoordinates(d.coordinates);
  const key = d.keyBase64 === null ? null : Buffer.from(d.keyBase64, 'base64');
  const keyShown = show(key);
  const headers = d.headers.map(
    (h) =>
      html`<dt>${h.name}</dt>
        <dd>${h.value ?? `base64:${h.valueBase64 ?? ''}`}</dd>`,
  );
  const replayed = d.storedAt
    ? html`<span class="tag">stored ${d.storedAt.toISOString()}</span>`
    : d.replayedAt
      ? html`<span class="tag">replayed ${d.replayedAt.toISOString()}</span>`
      : '';
  return html`<tr data-id="${id}" data-kind="${d.errorKind}" data-replayed="${d.replayedAt ? 'yes' : 'no'}">
    <td><input type="checkbox" name="id" value="${id}" aria-label="select ${id}" /></td>
    <td>
      <a
        href="/records${query({ topic: d.coordinates.topic, partition: d.coordinates.partition, from: d.coordinates.offset, limit: 1 })}"
        ><code>${id}</code></a
      >
    </td>
    <td><span class="tag kind">${d.errorKind}</span></td>
    <td class="error">${d.error}</td>
    <td class="time">${d.failedAt.toISOString()} ${replayed}</td>
    <td>
      ${keyShown.as === 'none' ? html`<span class="muted">no key</span>` : html`<code>${keyShown.text}</code>`}${headers.length ? html`<dl class="headers">${headers}</dl>` : ''}
    </td>
    <td class="value">${rawValue(d)}</td>
    <td><button name="one" value="${id}" class="replay-one">replay</button></td>
  </tr>`;
}

/** The list's filter; a `route` without a `topic` filters by the route's topic. */
function filterOf(ctx: UiContext, q: URLSearchParams): DeadLetterFilter {
  const kind = q.get('kind') || undefined;
  if (kind !== undefined && !KINDS.includes(kind as RecordErrorKind))
    throw new UiInputError(`kind must be one of ${KINDS.join(', ')}`);
  return {
    topic: q.get('topic')?.trim() || (q.get('route')?.trim() ? routeParam(ctx, q).topic : undefined),
    kind,
    since: dateParam(q, 'since'),
    until: dateParam(q, 'until'),
    includeReplayed: q.get('replayed') === 'on',
    limit: intParam(q, 'limit', 100, 1, 1_000),
  };
}

function filterForm(q: URLSearchParams, topics: string[]): Html {
  return html`<form method="get" class="filters">
    <label
      >topic
      <select name="topic">
        ${options(topics, q.get('topic') ?? '', 'any')}
      </select></label
    >
    <label
      >kind
      <select name="kind">
        ${options(KINDS, q.get('kind') ?? '', 'any')}
      </select></label
    >
    <label>failed since <input type="datetime-local" step="1" name="since" value="${q.get('since') ?? ''}" /></label>
    <label>until <input type="datetime-local" step="1" name="until" value="${q.get('until') ?? ''}" /></label>
    <label
      ><input type="checkbox" name="replayed" ${q.get('replayed') === 'on' ? html`checked` : ''} /> include
      replayed</label
    >
    <label>at most <input type="number" name="limit" min="1" max="1000" value="${q.get('limit') ?? '100'}" /></label>
    <button>filter</button>
  </form>`;
}

async function render(ctx: UiContext, q: URLSearchParams, message?: Html): Promise<UiResponse> {
  const [list, topics] = await Promise.all([ctx.deadLetters.list(filterOf(ctx, q)), ctx.kafka.topics()]);
  const table = list.length
    ? dataTable(
        'dead-letters',
        [
          html`<input type="checkbox" class="select-all" aria-label="select all" />`,
          'coordinates',
          'kind',
          'reason',
          'failed',
          'key, headers',
          'raw value',
          '',
        ],
        list.map(row),
      )
    : html`<p class="muted">No dead letters match.</p>`;
  const body = html`${message}${filterForm(q, topics)}
    <form method="post" action="/dead-letters/replay${query(Object.fromEntries(q))}" class="replay">
      <p>
        <button class="replay-selected">replay selected</button> re-publishes each raw key, value and headers to its
        topic (with a <code>dead-letter-of</code> header) and marks it replayed, as
        <code>npm run dead-letters -- replay</code> does: a dead letter is replayed once.
      </p>
      ${table}
    </form>`;
  return page(
    layout({ title: 'Dead letters', current: '/dead-letters', body, context: contextLine(ctx, routeParam(ctx, q)) }),
  );
}

/** GET /dead-letters?topic&kind&since&until&replayed&limit. */
export function deadLettersPage(ctx: UiContext, req: UiRequest): Promise<UiResponse> {
  return render(ctx, req.url.searchParams);
}

/** POST /dead-letters/replay: `one` (a row's button) or the checked `id`s. */
export async function replayDeadLetters(ctx: UiContext, req: UiRequest): Promise<UiResponse> {
  const one = req.form.get('one');
  const ids = one ? [one] : req.form.getAll('id');
  if (ids.length === 0) return render(ctx, req.url.searchParams, notice('Select the dead letters to replay.', 'error'));
  if (ids.length > MAX_REPLAY)
    throw new UiInputError(
      `at most ${MAX_REPLAY} dead letters per replay (npm run dead-letters -- replay --all replays all)`,
    );
  for (const id of ids)
    if (!parseCoordinates(id))
      throw new UiInputError(`dead letter id ${JSON.stringify(id)} is not topic/partition/offset`);
  const done = await ctx.replay(ids);
  const message = done.length
    ? notice(`replayed ${done.length}: ${done.join(', ')}`, 'ok')
    : notice('nothing to replay (already replayed or no such dead letter)', 'info');
  return render(ctx, req.url.searchParams, message);
}
