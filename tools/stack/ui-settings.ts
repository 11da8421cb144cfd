/** What the native UIs serve: the addresses `up` wrote to the stack's env file, whatever the mode. */
import { STACK_ENV_FILE, readEnvFile } from '../../lib/config';
import type { StackEnvKey } from './mode';
import { shownPath } from './proc';

/** One setting of the stack's env file; throws (naming the file) when `up` has not written it. */
export function stackSetting(key: StackEnvKey): string {
  const value = readEnvFile(STACK_ENV_FILE)[key];
  if (!value) throw new Error(`no ${key} in ${shownPath(STACK_ENV_FILE)}: run \`npm run stack -- up\` first`);
  return value;
}
