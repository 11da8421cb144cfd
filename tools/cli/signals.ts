/** Stopping a long-running command: the first Ctrl-C (or SIGTERM) asks, the second insists. */
import { constants } from 'node:os';

/**
 * An AbortSignal that aborts on the first SIGINT or SIGTERM, so the command can finish what is in
 * progress and stop; a second signal exits at once (128 + the signal's number). `say` tells the
 * user which is happening.
 */
export function stopSignal(say: (m: string) => void): AbortSignal {
  const controller = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      say(`${sig} again: stopping now`);
      process.exit(128 + constants.signals[sig]);
    }
    say(`${sig}: finishing what is in progress, then stopping (again to stop at once)`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return controller.signal;
}
