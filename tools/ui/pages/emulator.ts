/** The emulator, live: records/s over time, events, retries, dead letters by kind; or that none runs. */
import type { UiContext } from '../context';
import { html, layout, query, type Html } from '../html';
import { contextLine, routeParam, page, topicParam, type UiRequest, type UiResponse } from '../route';
import { readEmulatorStatuses, type EmulatorStatusView } from '../status-file';

/** The emulator the page follows: a live one of the topic, else the last one seen. */
function current(ctx: UiContext, topic: string): EmulatorStatusView | undefined {
  const all = readEmulatorStatuses({ topic, dir: ctx.statusDir });
  return all.find((s) => s.live) ?? all[0];
}

const kindsList = (byKind: Record<string, number>): Html => {
  const entries = Object.entries(byKind);
  if (entries.length === 0) return html`<span class="muted">none</span>`;
  return html`<ul class="kinds">
    ${entries.map(([k, n]) => html`<li data-kind="${k}"><span class="tag kind">${k}</span> ${n}</li>`)}
  </ul>`;
};

function statusTable(s: EmulatorStatusView): Html {
  const rows: [string, string | number][] = [
    ['records/s', s.rate],
    ['events', s.events],
    ['records', s.records],
    [`written (${Object.keys(s.written).join(' / ')})`, Object.values(s.written).join(' / ')],
    ['already present', s.alreadyPresent],
    ['dead letters', s.deadLettered],
    ['tombstones', s.tombstones],
    ['retries', s.retries],
    ['lag', Object.values(s.lag).reduce((a, b) => a + b, 0)],
  ];
  return html`<table class="status">
    ${rows.map(
      ([k, v]) =>
        html`<tr>
          <th>${k}</th>
          <td class="num" data-stat="${k}">${v}</td>
        </tr>`,
    )}
    <tr>
      <th>dead letters by kind (this run)</th>
      <td>${kindsList(s.deadLettersByKind)}</td>
    </tr>
  </table>`;
}

function banner(s: EmulatorStatusView | undefined): Html {
  if (!s)
    return html`<p class="notice info" data-emulator="none">
      <strong>No emulator running</strong> for this topic (no status published). Start one with
      <code>npm run local</code>.
    </p>`;
  if (!s.live) {
    return html`<p class="notice info" data-emulator="stopped">
      <strong>No emulator running.</strong> The last one (pid ${s.pid}, group <code>${s.groupId}</code>)
      ${s.state === 'stopped' ? 'stopped' : 'went silent'} at ${s.updatedAt}; its last figures are below.
    </p>`;
  }
  return html`<p class="notice ok" data-emulator="live">
    <strong>Emulator running</strong>: pid ${s.pid}, group <code>${s.groupId}</code>, since ${s.startedAt}.
  </p>`;
}

/** The live part: refreshed every second by ui.js. */
async function live(ctx: UiContext, topic: string): Promise<Html> {
  const s = current(ctx, topic);
  const stored = await ctx.deadLetters.countByKind(topic);
  return html`${banner(s)}${s ? statusTable(s) : ''}
    <h2>Dead letters of this topic by kind (dead-letter table)</h2>
    ${kindsList(stored)}`;
}

/** GET /emulator/live. */
export async function emulatorLive(ctx: UiContext, req: UiRequest): Promise<UiResponse> {
  return page(await live(ctx, topicParam(ctx, req.url.searchParams)));
}

/** GET /emulator/status.json: the chart's data (`samples`: [epoch ms, records/s]). */
export async function emulatorJson(ctx: UiContext, req: UiRequest): Promise<UiResponse> {
  const s = current(ctx, topicParam(ctx, req.url.searchParams));
  return {
    type: 'json',
    body: s ? { live: s.live, samples: s.samples, state: s.state } : { live: false, samples: [], state: 'none' },
  };
}

/** GET /emulator. */
export async function emulatorPage(ctx: UiContext, req: UiRequest): Promise<UiResponse> {
  const topic = topicParam(ctx, req.url.searchParams);
  const body = html`<p>
      The emulator (<code>npm run local</code>) publishes its status to <code>${ctx.statusDir}</code>; this page follows
      the one of topic <code>${topic}</code>.
    </p>
    <h2>Records per second</h2>
    <div id="rate-chart" data-source="/emulator/status.json${query({ topic })}"></div>
    <div data-refresh="/emulator/live${query({ topic })}" data-every="1000">${await live(ctx, topic)}</div>`;
  return page(
    layout({
      title: 'Emulator',
      current: '/emulator',
      body,
      context: contextLine(ctx, routeParam(ctx, req.url.searchParams)),
      scripts: ['uPlot.iife.min.js', 'emulator.js'],
      styles: ['uPlot.min.css'],
    }),
  );
}
