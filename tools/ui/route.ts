/** What a page handler receives and returns, and the checks on what a request may ask. */
import { QuotesSinkError } from '../../lib/errors';
import { TOPIC_NAME } from '../../lib/event/coordinates';
import type { UiContext, UiRoute } from './context';
import { html, type Html, type HtmlValue } from './html';

/** A request, reduced to what pages read: the URL's parameters and a POSTed form. */
export interface UiRequest {
  url: URL;
  /** The form of a POST (empty for a GET). */
  form: URLSearchParams;
}

export type UiResponse = { type: 'html'; body: Html; status?: number } | { type: 'json'; body: unknown };

export type Handler = (ctx: UiContext, req: UiRequest) => Promise<UiResponse>;

/** A request asked for something malformed (answered 400, with the message). */
export class UiInputError extends QuotesSinkError {}

/** A whole-number parameter in [min, max], or `def` when absent. */
export function intParam(params: URLSearchParams, name: string, def: number, min: number, max: number): number {
  const v = params.get(name);
  if (v === null || v.trim() === '') return def;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min || n > max)
    throw new UiInputError(`${name} must be a whole number from ${min} to ${max}`);
  return n;
}

/** A date parameter (`datetime-local` or ISO), or undefined when absent. */
export function dateParam(params: URLSearchParams, name: string): Date | undefined {
  const v = params.get(name);
  if (v === null || v.trim() === '') return undefined;
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) throw new UiInputError(`${name} must be a date and time`);
  return d;
}

/** The routes the pages know: the context's, or (a context without them) the quotes route on its stores. */
export function uiRoutes(ctx: UiContext): readonly UiRoute[] {
  if (ctx.routes?.length) return ctx.routes;
  const c = ctx.config;
  return [
    {
      name: 'quotes',
      topic: c.KAFKA_TOPIC,
      group: c.KAFKA_GROUP_ID,
      stores: ctx.stores,
      recordStores: ctx.recordStores,
    },
  ];
}

/**
 * The route a page is about: `?route=`, else the route of `?topic=`, else the first (the quotes
 * route); an unknown route name is refused.
 */
export function routeParam(ctx: UiContext, params: URLSearchParams): UiRoute {
  const routes = uiRoutes(ctx);
  const name = params.get('route')?.trim();
  const topic = params.get('topic')?.trim();
  if (!name) return routes.find((r) => r.topic === topic) ?? routes[0];
  const route = routes.find((r) => r.name === name);
  if (!route) throw new UiInputError(`no route ${name} (the sink file has ${routes.map((r) => r.name).join(', ')})`);
  return route;
}

/** The topic a page is about: `?topic=`, else the chosen route's ({@link routeParam}). */
export function topicParam(ctx: UiContext, params: URLSearchParams): string {
  const t = params.get('topic')?.trim();
  if (!t) return routeParam(ctx, params).topic;
  if (!TOPIC_NAME.test(t)) throw new UiInputError('topic is not a legal Kafka topic name');
  return t;
}

/** A page's HTML response. */
export const page = (body: Html, status = 200): UiResponse => ({ type: 'html', body, status });

/** A notice at the top of a page: what an action did, or why it failed. */
export const notice = (text: string, kind: 'ok' | 'error' | 'info' = 'info'): Html =>
  html`<p class="notice ${kind}" role="status">${text}</p>`;

/** `<select>` options, the selected one marked. */
export const options = (values: readonly string[], selected: string | undefined, blank?: string): Html[] => [
  ...(blank === undefined ? [] : [html`<option value="">${blank}</option>`]),
  ...values.map((v) => html`<option value="${v}" ${v === selected ? html`selected` : ''}>${v}</option>`),
];

/** A table of class `cls`: one header row of `head` cells, then `body` (its rows). */
export const dataTable = (cls: string, head: readonly HtmlValue[], body: HtmlValue): Html =>
  html`<table class="${cls}">
    <thead>
      <tr>
        ${head.map((h) => html`<th>${h}</th>`)}
      </tr>
    </thead>
    <tbody>
      ${body}
    </tbody>
  </table>`;

/** A filter form's topic and partition selects; `all` labels the choice of every partition. */
export const topicPartitionFields = (
  topics: readonly string[],
  topic: string | undefined,
  partitions: readonly number[],
  partition: number | undefined,
  all?: string,
): Html =>
  html`<label
      >topic
      <select name="topic">
        ${options(topics, topic)}
      </select></label
    >
    <label
      >partition
      <select name="partition">
        ${options(partitions.map(String), partition === undefined ? '' : String(partition), all)}
      </select></label
    >`;

/**
 * The route picker: a link to this page for each route (`?route=NAME`), the chosen one marked, or
 * nothing when there is one route.
 */
export function routePicker(ctx: UiContext, chosen: UiRoute): Html | string {
  const routes = uiRoutes(ctx);
  if (routes.length < 2) return '';
  const links = routes.map((r) =>
    r.name === chosen.name
      ? html` <strong class="route" aria-current="true" data-route="${r.name}">${r.name}</strong>`
      : html` <a class="route" data-route="${r.name}" href="?route=${encodeURIComponent(r.name)}">${r.name}</a>`,
  );
  return html`<nav class="routes" aria-label="routes">route${links}</nav>
    · `;
}

/** The page header's context line: the route picker, and what the UI reads for the chosen route. */
export function contextLine(ctx: UiContext, route: UiRoute = routeParam(ctx, new URLSearchParams())): Html {
  const stores = route.stores.map((s) => html` · ${s.label} <code>${s.where}</code>`);
  return html`${routePicker(ctx, route)}topic <code>${route.topic}</code> · group <code>${route.group}</code>${stores}`;
}
