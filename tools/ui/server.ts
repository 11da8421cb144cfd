/**
 * The UI's HTTP server (node:http): a handful of server-rendered pages, their live fragments and
 * static assets, on 127.0.0.1 only. No login, so the guards are about the browser: the Host
 * header must name this server (no DNS rebinding), a POST must come from its own pages (Origin),
 * another site may link to a page but not load one as a subresource (Sec-Fetch-*: an <img> of
 * /records would join a consumer group), and a strict CSP allows no inline script or style.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { QuotesSinkError } from '../../lib/errors';
import type { UiContext } from './context';
import { html, layout } from './html';
import { KafkaViewError } from './kafka-view';
import { deadLettersPage, replayDeadLetters } from './pages/dead-letters';
import { emulatorJson, emulatorLive, emulatorPage } from './pages/emulator';
import { recordsPage } from './pages/records';
import { repairPage, storesPage } from './pages/stores';
import { topicsLive, topicsPage } from './pages/topics';
import { UiInputError, type Handler, type UiResponse } from './route';

const ROUTES: Record<string, Handler> = {
  'GET /topics': topicsPage,
  'GET /topics/live': topicsLive,
  'GET /records': recordsPage,
  'GET /emulator': emulatorPage,
  'GET /emulator/live': emulatorLive,
  'GET /emulator/status.json': emulatorJson,
  'GET /dead-letters': deadLettersPage,
  'POST /dead-letters/replay': replayDeadLetters,
  'GET /stores': storesPage,
  'POST /stores/repair': repairPage,
};

const ASSETS_DIR = path.join(__dirname, 'assets');
/** Served files: ours, and uPlot from node_modules (nothing comes from a CDN). */
const ASSETS: Record<string, { file: () => string; type: string }> = {
  'ui.js': { file: () => path.join(ASSETS_DIR, 'ui.js'), type: 'text/javascript' },
  'emulator.js': { file: () => path.join(ASSETS_DIR, 'emulator.js'), type: 'text/javascript' },
  'ui.css': { file: () => path.join(ASSETS_DIR, 'ui.css'), type: 'text/css' },
  'uPlot.iife.min.js': { file: () => require.resolve('uplot/dist/uPlot.iife.min.js'), type: 'text/javascript' },
  'uPlot.min.css': { file: () => require.resolve('uplot/dist/uPlot.min.css'), type: 'text/css' },
};

const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  // Not no-referrer: with it, browsers send `Origin: null` on the pages' own form posts.
  'referrer-policy': 'same-origin',
  'cache-control': 'no-store',
};

/** Form bodies past this size are refused (a form of ids is a few kB). */
const MAX_BODY_BYTES = 256 * 1024;

/** A request the server refuses before any page sees it. */
class UiRequestError extends QuotesSinkError {
  constructor(
    readonly status: number,
    message: string,
    /** Answer with the message as plain text, not a page (what asked cannot show one). */
    readonly plain = false,
  ) {
    super(message);
  }
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) reject(new UiRequestError(413, 'request body too large'));
      else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** The hosts this server answers to, for `port`. */
const allowedHosts = (port: number) => new Set([`127.0.0.1:${port}`, `localhost:${port}`]);

/** Whether a POST comes from this server's own pages: its Origin, or the browser's Sec-Fetch-Site. */
function sameOrigin(req: Pick<http.IncomingMessage, 'headers'>, host: string): boolean {
  const origin = req.headers.origin;
  if (origin === `http://${host}`) return true;
  return (origin === undefined || origin === 'null') && req.headers['sec-fetch-site'] === 'same-origin';
}

/**
 * The one rule for requests that other sites make a browser send: a POST only from our own pages
 * (CSRF); anything else from another site, or a same-site one (another port of 127.0.0.1), only
 * as a top-level navigation, a link followed. Requests without Sec-Fetch-Site (curl, scripts)
 * and typed URLs (`none`) pass. Returns why a request is refused, or undefined.
 */
export function crossSiteRefusal(
  req: Pick<http.IncomingMessage, 'method' | 'headers'>,
  host: string,
): string | undefined {
  if (req.method === 'POST') return sameOrigin(req, host) ? undefined : 'cross-origin form posts are refused';
  const site = req.headers['sec-fetch-site'];
  if (site === undefined || site === 'same-origin' || site === 'none') return undefined;
  const navigation = req.headers['sec-fetch-mode'] === 'navigate' && req.headers['sec-fetch-dest'] === 'document';
  return navigation ? undefined : `${site} requests are refused here, except following a link to a page`;
}

/** Refuses foreign Host headers (DNS rebinding) and what {@link crossSiteRefusal} refuses, before any page work. */
function guard(req: http.IncomingMessage, port: number): void {
  const host = req.headers.host ?? '';
  if (!allowedHosts(port).has(host))
    throw new UiRequestError(421, 'this server answers to 127.0.0.1 and localhost only');
  const refused = crossSiteRefusal(req, host);
  // A refused form post was a navigation: it gets a page. A subresource gets a line of text.
  if (refused) throw new UiRequestError(403, refused, req.method !== 'POST');
}

function send(res: http.ServerResponse, status: number, type: string, body: string | Buffer): void {
  res.writeHead(status, { 'content-type': `${type}; charset=utf-8`, ...SECURITY_HEADERS });
  res.end(body);
}

function sendResponse(res: http.ServerResponse, r: UiResponse): void {
  if (r.type === 'json') send(res, 200, 'application/json', JSON.stringify(r.body));
  else send(res, r.status ?? 200, 'text/html', r.body.value);
}

/** An error as a page: the message escaped, never a stack. */
function sendError(res: http.ServerResponse, e: unknown): void {
  if (e instanceof UiRequestError && e.plain) return send(res, e.status, 'text/plain', `${e.message}\n`);
  const status =
    e instanceof UiRequestError ? e.status : e instanceof UiInputError ? 400 : e instanceof KafkaViewError ? 404 : 500;
  const message = e instanceof Error ? e.message : String(e);
  const body = layout({
    title: status === 500 ? 'Something failed' : 'Cannot show this',
    current: '',
    body: html`<p class="notice error">${message}</p>`,
  });
  send(res, status, 'text/html', body.value);
  if (status === 500) console.error(`ui: ${message}`);
}

async function handle(
  ctx: UiContext,
  port: number,
  req: http.IncomingMessage,
  res: http.ServerResponse,
): Promise<void> {
  guard(req, port);
  const url = new URL(req.url ?? '/', `http://${req.headers.host}`);
  if (req.method === 'GET' && url.pathname === '/') {
    res.writeHead(302, { location: '/topics', ...SECURITY_HEADERS }).end();
    return;
  }
  if (url.pathname === '/favicon.ico') return void res.writeHead(204, SECURITY_HEADERS).end();
  const asset = url.pathname.startsWith('/assets/') ? ASSETS[url.pathname.slice(8)] : undefined;
  if (req.method === 'GET' && asset) return send(res, 200, asset.type, readFileSync(asset.file()));
  const route = ROUTES[`${req.method} ${url.pathname}`];
  if (!route) throw new UiRequestError(404, `no page ${url.pathname}`);
  const form = req.method === 'POST' ? new URLSearchParams(await readBody(req)) : new URLSearchParams();
  sendResponse(res, await route(ctx, { url, form }));
}

/** A running UI server. */
export interface UiServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Serves the UI on 127.0.0.1:`port` (0: any free port). */
export function startUiServer(ctx: UiContext, port: number): Promise<UiServer> {
  let bound = port;
  const server = http.createServer((req, res) => {
    handle(ctx, bound, req, res).catch((e: unknown) => sendError(res, e));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      bound = (server.address() as AddressInfo).port;
      resolve({
        url: `http://127.0.0.1:${bound}/`,
        port: bound,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}
