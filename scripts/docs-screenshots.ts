/**
 * `npm run docs:screenshots`: the pictures of the UI in README.md and docs/ui.md, made from a fresh
 * demo run. Runs `npm start` (which reuses the stack when it is up), starts `npm run ui` on a free
 * port, and has Debian's chromium (headless, driven by playwright-core; installed with apt-get when
 * missing) take, at a fixed viewport, the Records page of the demo's latest quotes on one partition
 * of KAFKA_TOPIC (docs/ui.png) and the Stores page with its consistency check (docs/ui-stores.png).
 * The shown records are checked to be the sample file's quotes, each in both stores, before the
 * picture is kept. Stops the UI and the browser it started when done.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { loadConfig, loadStackEnv, PROJECT_ROOT, type Config } from '../lib/config';
import { runMain } from '../tools/cli/main';
import { createKafka } from '../tools/kafka';
import { readQuotes, SAMPLE_FILE } from '../tools/producer/publish';
import { spawnCapture } from '../tools/proc/spawn';
import { ensureChromium } from '../tools/stack/test-tools';

const VIEWPORT = { width: 1400, height: 900 };
/** The partition shown, and how many of its latest records (as many as fit the viewport). */
const PARTITION = 0;
const RECORDS = 6;
const DOCS = path.join(PROJECT_ROOT, 'docs');
const SHOTS = { records: path.join(DOCS, 'ui.png'), stores: path.join(DOCS, 'ui-stores.png') };

const log = (m: string) => process.stderr.write(`[docs:screenshots] ${m}\n`);

/** A TypeScript entry point as one node process (`node --import tsx`), so its pid is the command's. */
const tsArgs = (file: string, args: string[] = []) => ['--import', 'tsx', file, ...args];

/** `npm start`, its output shown; rejects when it fails. */
async function runDemo(): Promise<void> {
  log('npm start');
  await spawnCapture(process.execPath, tsArgs('cli/demo.ts'), {
    cwd: PROJECT_ROOT,
    passthrough: true,
    check: true,
    what: 'npm start',
    timeoutMs: 30 * 60_000,
  });
}

/** The first offset of the last {@link RECORDS} records of {@link PARTITION}: the demo's latest quotes there. */
async function latestFrom(config: Config): Promise<number> {
  const admin = createKafka(config, 'quotes-sink-docs').admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(config.KAFKA_TOPIC);
    const p = offsets.find((o) => o.partition === PARTITION);
    if (!p) throw new Error(`${config.KAFKA_TOPIC} has no partition ${PARTITION}`);
    const [low, high] = [Number(p.low), Number(p.high)];
    if (high - low < RECORDS) throw new Error(`${config.KAFKA_TOPIC}/${PARTITION} holds fewer than ${RECORDS} records`);
    return high - RECORDS;
  } finally {
    await admin.disconnect();
  }
}

/** `npm run ui -- --port 0`; resolves with the child and its URL once it serves. */
function startUi(timeoutMs = 60_000): Promise<{ child: ChildProcess; url: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, tsArgs('cli/ui.ts', ['--port', '0']), {
      cwd: PROJECT_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      reject(new Error(`npm run ui: not serving within ${timeoutMs / 1000}s:\n${out}`));
    }, timeoutMs);
    const onData = (d: Buffer) => {
      out += d.toString();
      const url = /UI on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out)?.[1];
      if (url) {
        clearTimeout(timer);
        resolve({ child, url });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`npm run ui exited (${code ?? signal}) before serving:\n${out}`));
    });
  });
}

/** Stops a child this script started, by its pid: SIGTERM, then SIGKILL after `graceMs`. */
function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Throws unless every row shown is one of the sample file's quotes and in both stores. */
async function checkDemoQuotes(page: Page, expected: number): Promise<void> {
  const sample = new Set(readQuotes(SAMPLE_FILE).map((q) => JSON.stringify(q)));
  const rows = await page.locator('tr[data-offset]').all();
  if (rows.length !== expected) throw new Error(`the Records page shows ${rows.length} records, not ${expected}`);
  for (const row of rows) {
    const offset = await row.getAttribute('data-offset');
    const fate = await row.getAttribute('data-fate');
    const value = (await row.locator('td.value').textContent()) ?? '';
    let quote: string | undefined;
    try {
      quote = JSON.stringify(JSON.parse(value));
    } catch {
      quote = undefined;
    }
    if (!quote || !sample.has(quote)) throw new Error(`offset ${offset} is not a quote of ${SAMPLE_FILE}: ${value}`);
    if (fate !== 'stored') throw new Error(`offset ${offset}'s fate is ${fate}, not stored in both stores`);
  }
}

/** Both pictures, from the UI at `base`, through headless chromium at `executablePath`. */
async function takeShots(executablePath: string, base: string, config: Config, from: number): Promise<void> {
  const browser = await chromium.launch({ executablePath, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  try {
    const page = await browser.newPage({
      viewport: VIEWPORT,
      deviceScaleFactor: 1,
      colorScheme: 'light',
      locale: 'en-US',
      timezoneId: 'UTC',
    });
    page.setDefaultTimeout(60_000);
    const topic = config.KAFKA_TOPIC;
    const records = { topic, partition: String(PARTITION), from: String(from), limit: String(RECORDS) };
    await page.goto(`${base}records?${new URLSearchParams({ ...records, group: config.KAFKA_GROUP_ID })}`);
    await checkDemoQuotes(page, RECORDS);
    await page.screenshot({ path: SHOTS.records, animations: 'disabled', caret: 'hide' });
    log(`${path.relative(PROJECT_ROOT, SHOTS.records)}: ${topic}/${PARTITION} offsets ${from}..${from + RECORDS - 1}`);
    await page.goto(`${base}stores?${new URLSearchParams({ topic, check: '1' })}`);
    await page.locator('table.consistency').waitFor();
    await page.screenshot({ path: SHOTS.stores, animations: 'disabled', caret: 'hide' });
    log(`${path.relative(PROJECT_ROOT, SHOTS.stores)}: the counts and the consistency of ${topic}`);
  } finally {
    await browser.close();
  }
}

runMain('docs:screenshots', async () => {
  const started = Date.now();
  const executablePath = await ensureChromium(log);
  await runDemo();
  loadStackEnv();
  const config = loadConfig();
  const from = await latestFrom(config);
  const ui = await startUi();
  try {
    await takeShots(executablePath, ui.url, config, from);
  } finally {
    await stopChild(ui.child);
  }
  log(`done in ${((Date.now() - started) / 1000).toFixed(1)}s`);
});
