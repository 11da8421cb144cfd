/**
 * Every routed topic at once, as AWS runs one event source mapping per topic: one {@link Emulator}
 * per route (its own consumer group, positions and destination), all calling the same function.
 * The group starts them together, stops them together (a signal, or one of them failing), and
 * releases the shared invoker once, when the last has stopped.
 */
import type { Emulator, EmulatorStatus } from './emulator';
import type { Invoker } from './invoke';
import type { Logger } from '../../lib/log';
import { asError } from './retry';
import { mergeStatuses } from './status';

/** One route's emulator. */
export interface RouteEmulator {
  route: string;
  emulator: Emulator;
}

/** An invoker for one mapping: the shared one, without its `close` (the group closes it once). */
export const sharedInvoker =
  (inner: Invoker): Invoker =>
  (event) =>
    inner(event);

/** The emulators of every route, run as one. */
export class EmulatorGroup {
  constructor(
    readonly members: readonly RouteEmulator[],
    /** The invoker they share (closed once all have stopped). */
    private readonly invoker?: Pick<Invoker, 'close'>,
    private readonly log?: Pick<Logger, 'warn'>,
  ) {}

  /** Stops every route's emulator (idempotent, as each emulator's own stop). */
  stop(reason: string): void {
    for (const m of this.members) m.emulator.stop(reason);
  }

  /** Each route's running totals. */
  byRoute(): Record<string, EmulatorStatus> {
    return Object.fromEntries(this.members.map((m) => [m.route, m.emulator.status()]));
  }

  /** The totals of every route together. */
  status(): EmulatorStatus {
    return mergeStatuses(this.members.map((m) => m.emulator.status()));
  }

  /**
   * Runs every emulator until each has stopped (idle, or told to): the merged final status. The
   * first to fail stops the others, and its error is thrown once they all stopped.
   */
  async run(): Promise<EmulatorStatus> {
    const settled = await Promise.allSettled(
      this.members.map(async (m) => {
        try {
          return await m.emulator.run();
        } catch (e) {
          this.stop(`route ${m.route} failed: ${asError(e).message}`);
          throw e;
        }
      }),
    );
    await this.invoker?.close?.().catch((err: unknown) => this.log?.warn({ err }, 'closing the invoker failed'));
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
    return mergeStatuses(settled.map((s) => (s as PromiseFulfilledResult<EmulatorStatus>).value));
  }
}
