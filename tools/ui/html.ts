/**
 * HTML that cannot forget to escape: the {@link html} template escapes every value it is given
 * unless it is already {@link Html}, so record content (hostile by assumption: markup, control
 * characters, bidi overrides) only ever reaches the page as text.
 */

/** Markup that is safe as it is (built by {@link html} or {@link raw}). */
export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

/** C0/C1 controls and bidi overrides: shown as `\uXXXX`, since a browser would act on or hide them. */
// Matching control characters is the point of these two patterns.
/* eslint-disable no-control-regex */
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
const CONTROL_OR_NEWLINE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
/* eslint-enable no-control-regex */
const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** `text` with control characters made visible; newlines and tabs kept when `multiline`. */
export function visible(text: string, multiline = false): string {
  return text.replace(
    multiline ? CONTROL : CONTROL_OR_NEWLINE,
    (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** Escapes `text` for HTML text and quoted attributes, controls made visible. */
export function escapeHtml(text: string, multiline = false): string {
  return visible(text, multiline).replace(/[&<>"']/g, (ch) => ENTITIES[ch]);
}

/** Text for a `<pre>`: escaped, newlines kept. */
export const pre = (text: string): Html => new Html(escapeHtml(text, true));

/** Trusted markup, for the few constant fragments that are not built with {@link html}. */
export const raw = (markup: string): Html => new Html(markup);

/** A value {@link html} accepts: escaped unless Html; arrays joined; null, undefined and false render nothing. */
export type HtmlValue = Html | string | number | boolean | null | undefined | readonly HtmlValue[];

function render(v: HtmlValue): string {
  if (v === null || v === undefined || v === false) return '';
  if (v instanceof Html) return v.value;
  if (Array.isArray(v)) return v.map(render).join('');
  return escapeHtml(String(v));
}

/** The template tag: `html\`<td>${text}</td>\`` escapes `text`. */
export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): Html {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1];
  return new Html(out);
}

/** A query string from parameters (undefined and empty ones left out), for links. */
export function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** The pages, in the order of the navigation bar. */
export const PAGES = [
  { path: '/topics', title: 'Topics' },
  { path: '/records', title: 'Records' },
  { path: '/emulator', title: 'Emulator' },
  { path: '/dead-letters', title: 'Dead letters' },
  { path: '/stores', title: 'Stores' },
] as const;

export interface LayoutOptions {
  title: string;
  current: string;
  body: Html;
  /** Extra scripts and styles served under /assets/. */
  scripts?: string[];
  styles?: string[];
  /** What the header says the page is about (topic, tables, collection). */
  context?: Html;
}

/** A whole page: navigation, context line, body. No inline script or style (the CSP forbids them). */
export function layout(o: LayoutOptions): Html {
  const nav = PAGES.map(
    (p) => html`<a href="${p.path}" class="${p.path === o.current ? 'current' : ''}">${p.title}</a>`,
  );
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${o.title} · quotes-sink</title>
        <link rel="stylesheet" href="/assets/ui.css" />
        ${(o.styles ?? []).map((s) => html`<link rel="stylesheet" href="/assets/${s}" />`)}
      </head>
      <body>
        <header>
          <strong>quotes-sink</strong>
          <nav>${nav}</nav>
          <span class="context">${o.context}</span>
        </header>
        <main>
          <h1>${o.title}</h1>
          ${o.body}
        </main>
        ${(o.scripts ?? []).map((s) => html`<script src="/assets/${s}"></script>`)}
        <script src="/assets/ui.js"></script>
      </body>
    </html>`;
}
