/**
 * Faults on the real (native) stack: a service stopped for 10 s mid-run, a server killed while a
 * bulk write is in flight, connections cut, a warm container reused after a database restart.
 * Each run moves 20,000 records; afterwards every valid record is in both stores exactly once.
 * The stack's services are started again by the test, whatever happens.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { buildEvent, toEventRecord } from '../../tools/emulator/event';
import { ferretdb } from '../../tools/stack/ferretdb';
import { kafka } from '../../tools/stack/kafka';
import { postgres } from '../../tools/stack/postgres';
import { sleep } from '../../tools/stack/proc';
import type { NativeService } from '../../tools/stack/service';
import { currentMode, up } from '../../tools/stack/stack';
import { inProcessEmulator, lane, produce, type Lane } from '../helpers/lane';
import { exitOf, spawnCommand, TSX } from '../helpers/run';
import { quotes } from '../helpers/sink';
import { createSinkHandler } from '../../handlers/sink';
import type { Invoker } from '../../tools/emulator/invoke';
import { createLogger } from '../../lib/log';
import type { Quote } from '../../lib/records/quote';
import { quoteType } from '../helpers/quote-type';
import type { Stores } from '../../lib/sink/port';
import { openStores } from '../../lib/stores';
import { stackConfig } from '../helpers/env';
import { dyingAfter } from '../helpers/faults';

const N = 20_000;
const native = currentMode() === 'native';
const quiet = () => undefined;

async function waitForRows(l: Lane, atLeast: number, timeoutMs = 60_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await l.sb.counts().catch(() => ({ rows: 0 }));
    if (rows >= atLeast) return rows;
    if (Date.now() > deadline) throw new Error(`only ${rows} rows after ${timeoutMs / 1000}s`);
    await sleep(50);
  }
}

/** Produces N records, runs the emulator, injects `fault` once it is under way, checks the result. */
async function faultRun(
  name: string,
  fault: (l: Lane) => Promise<void>,
  env: Record<string, string> = {},
): Promise<void> {
  const l = await lane(name);
  try {
    await produce(l, ['--synthetic', String(N), '--seed', '99']);
    const emulator = spawnCommand(
      TSX,
      ['cli/local.ts', '--until-idle', '--batch-size', '250', '--backoff-cap-ms', '2000'],
      { ...l.env, ...env },
    );
    const exit = exitOf(emulator, 240_000);
    try {
      await waitForRows(l, 2_000);
      await fault(l);
    } finally {
      await up(quiet); // whatever the fault did, the stack serves again
    }
    assert.equal(await exit, 0, 'the emulator finished by itself');
    assert.deepEqual(await l.sb.counts(), { rows: N, docs: N, deadLetters: 0 });
  } finally {
    await l.close();
  }
}

/** {@link faultRun} with the emulator in this process and its function over `decorate(stores)`. */
async function faultRunInProcess(
  name: string,
  decorate: (s: Stores<Quote>) => Stores<Quote>,
  fault: (l: Lane) => Promise<void>,
): Promise<void> {
  const l = await lane(name);
  try {
    await produce(l, ['--synthetic', String(N), '--seed', '99']);
    const config = stackConfig(l.env);
    const log = createLogger('silent');
    const stores = openStores(config, quoteType);
    const handle = createSinkHandler({ config, log, stores: decorate(stores) });
    const invoke: Invoker = (event) => handle(event);
    invoke.close = stores.close;
    const run = inProcessEmulator(l, invoke).run();
    await waitForRows(l, 2_000);
    await fault(l);
    await run;
    assert.deepEqual(await l.sb.counts(), { rows: N, docs: N, deadLetters: 0 });
  } finally {
    await l.close();
  }
}

const stopFor = (service: NativeService, ms: number) => async () => {
  assert.ok(await service.down(), `${service.name} was running`);
  await sleep(ms);
  await up(quiet);
};

describe(
  'faults (native stack)',
  { skip: native ? false : "these tests stop and kill the native stack's processes; run them with the native stack" },
  () => {
    after(() => up(quiet));

    test('PostgreSQL stopped for 10 s mid-run: retried with backoff, nothing lost or doubled', () =>
      faultRun('pgstop', stopFor(postgres, 10_000)));
    test('FerretDB (Mongo) stopped for 10 s mid-run: same', () => faultRun('mongostop', stopFor(ferretdb, 10_000)));
    test('the Kafka broker stopped for 10 s mid-run: same', () => faultRun('kafkastop', stopFor(kafka, 10_000)));

    test('the Mongo server killed (SIGKILL) while bulk writes are in flight: same', () =>
      faultRun('mongokill', async () => {
        const { pid } = await ferretdb.status();
        assert.ok(pid);
        process.kill(pid, 'SIGKILL');
        await sleep(2_000);
      }));

    test('the handler dies after the Postgres write, before the Mongo write: retries complete Mongo, Postgres unchanged', async () => {
      let faultOn = false;
      // The emulator runs in this process, its function built over stores whose Mongo writes fail
      // while the fault is on: what a function dying between the two writes leaves behind.
      await faultRunInProcess(
        'afterpg',
        (stores) => dyingAfter(stores, 'mongo', () => faultOn),
        async (l) => {
          faultOn = true;
          const deadline = Date.now() + 30_000;
          let ahead = false;
          while (!ahead && Date.now() < deadline) {
            await sleep(100);
            const c = await l.sb.counts();
            ahead = c.rows > c.docs;
          }
          await sleep(1_000);
          faultOn = false;
          assert.ok(ahead, 'Postgres got ahead of Mongo while the fault was on');
        },
      );
    });

    test('Postgres connections cut server-side while writes are in flight: same', () =>
      faultRun('pgcut', async (l) => {
        const admin = new pg.Client({ connectionString: l.sb.config.POSTGRES_URL });
        await admin.connect();
        for (let i = 0; i < 5; i++) {
          await admin.query(
            "select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'quotes-sink' and pid <> pg_backend_pid()",
          );
          await sleep(200);
        }
        await admin.end();
      }));
  },
);

describe('warm container (in process)', { skip: native ? false : 'restarts the native Postgres' }, () => {
  let l: Lane;
  before(async () => (l = await lane('warm')));
  after(() => l.close());

  test('after a Postgres restart the next invocation reconnects by itself', async () => {
    Object.assign(process.env, l.env, { LOG_LEVEL: 'silent' });
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { handler, closeConnections } = require('../../handlers/sink') as typeof import('../../handlers/sink');
    const event = (offset: number) =>
      buildEvent(
        'msk',
        'x:9092',
        quotes(50, offset).map((value, i) =>
          toEventRecord({ topic: l.topic, partition: 0, offset: offset + i, timestamp: 1, key: null, value }),
        ),
      );
    try {
      const written = async (offset: number) => {
        const r = await handler(event(offset));
        assert.ok('stores' in r, 'a summary, not a partial batch response');
        return r.stores.postgres.written;
      };
      assert.equal(await written(0), 50);
      await postgres.down();
      await up(quiet);
      assert.equal(await written(100), 50, 'the first invocation after the restart succeeds');
      assert.deepEqual(await l.sb.counts(), { rows: 100, docs: 100, deadLetters: 0 });
    } finally {
      await closeConnections();
    }
  });
});
