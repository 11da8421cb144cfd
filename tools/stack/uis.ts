/**
 * The tutorial's own web UIs, natively, when `up --uis` asks: pgAdmin 4 (PyPI) on 5050 and
 * mongo-express (npm) on 8081, the ports compose uses. Nothing for Kafka installs here (Kafka UI
 * is a Docker image); `npm run ui` covers the topics. In docker mode compose runs all three.
 */
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { StackUpError, toStackError } from './errors';
import type { Mode } from './mode';
import { MONGO_EXPRESS_DIR, mongoExpress, mongoExpressSpec, mongoExpressStale } from './mongo-express';
import { PGADMIN_DIR, pgadmin, pgadminSpec } from './pgadmin';
import { STACK_DIR, shownPath } from './proc';
import { findProcess, nativeStatus, type NativeService, type NativeServiceSpec, type ServiceState } from './service';

type Log = (m: string) => void;

interface Ui {
  service: NativeService;
  spec: NativeServiceSpec;
  /** What it is and is for, for the line `up` prints. */
  what: string;
  /** Whether the running process serves settings that changed since it started. */
  stale?: () => boolean;
  dir: string;
}

export const UIS: readonly Ui[] = [
  { service: pgadmin, spec: pgadminSpec, what: "pgAdmin 4, SQL on the stack's Postgres", dir: PGADMIN_DIR },
  {
    service: mongoExpress,
    spec: mongoExpressSpec,
    what: "mongo-express, the stack's Mongo documents",
    stale: mongoExpressStale,
    dir: MONGO_EXPRESS_DIR,
  },
];

/** Written by `up --uis`, removed by `down`: `status` shows the UIs while it exists. */
const WANTED = path.join(STACK_DIR, 'uis');

/** Whether the last `up` asked for the UIs (and no `down` came since). */
export const uisWanted = (): boolean => existsSync(WANTED);

async function upOne(ui: Ui, log: Log): Promise<string> {
  const prefixed = (m: string) => log(`${ui.spec.name}: ${m}`);
  if (findProcess(ui.spec) && ui.stale?.()) {
    prefixed('the stack settings it serves changed: restarting');
    await ui.service.down();
  }
  await ui.service.prepare(log);
  const url = await ui.service.up(log);
  prefixed(`${url} (${ui.what}; no login)`);
  return url;
}

/**
 * Installs (cached in the stack folder) and starts the UIs at once, against the addresses in the
 * stack's env file. In docker mode compose serves them already. Throws a {@link StackUpError}
 * naming each UI that failed; the stack itself stays up.
 */
export async function upUis(mode: Mode, log: Log): Promise<void> {
  if (mode === 'docker') {
    log('uis: docker compose serves pgAdmin on http://localhost:5050 and mongo-express on http://localhost:8081');
    return;
  }
  writeFileSync(WANTED, `${new Date().toISOString()}\n`);
  const results = await Promise.allSettled(UIS.map((ui) => upOne(ui, log)));
  const errors = results.flatMap((r, i) => (r.status === 'rejected' ? [toStackError(UIS[i].spec.name, r.reason)] : []));
  if (errors.length) {
    const lines = errors.map((e) => `  ${e.message}`).join('\n');
    throw new StackUpError(`the stack is up, but not its UIs:\n${lines}`, errors);
  }
}

/** Stops the UIs this stack started (by pid), and forgets that they were asked for; `purge` deletes their folders. */
export async function downUis(log: Log, purge = false): Promise<void> {
  for (const ui of UIS) {
    if (await ui.service.down()) log(`${ui.spec.name}: stopped`);
  }
  rmSync(WANTED, { force: true });
  if (!purge) return;
  for (const ui of UIS) {
    rmSync(ui.dir, { recursive: true, force: true });
    log(`${shownPath(ui.dir)} deleted`);
  }
}

/** The UIs' states: each one that was asked for or runs (a UI nobody asked for is not "down"). */
export async function uiStatus(): Promise<ServiceState[]> {
  const wanted = uisWanted();
  return Promise.all(UIS.filter((ui) => wanted || findProcess(ui.spec)).map((ui) => nativeStatus(ui.spec)));
}
