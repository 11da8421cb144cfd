/** What a page handler receives and returns, and the checks on what a request may ask. */
import { QuotesSinkError } from '../../lib/errors';
import { TOPIC_NAME } from '../../lib/event/coordinates';
import type { UiContext } from './context';
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

/** The topic a page is about: `?topic=`, else the configured one. */
export function topicParam(ctx: UiContext, params: URLSearchParams): string {
  const t = params.get('topic')?.trim();
  if (!t) return ctx.config.KAFKA_TOPIC;
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

/** The page header's context line: what the UI reads. */
export function contextLine(ctx: UiContext): Html {
  const c = ctx.config;
  const stores = ctx.stores.map((s) => html` · ${s.label} <code>${s.where}</code>`);
  return html`topic <code>${c.KAFKA_TOPIC}</code> · group <code>${c.KAFKA_GROUP_ID}</code>${stores}`;
}
