/**
 * The first step of `npm test`: installs what the tests need and the machine lacks (Debian's
 * chromium and python3-venv with apt-get, cfn-lint pinned from PyPI into a venv under the stack
 * folder); prints nothing when all is there. See tools/stack/test-tools.ts.
 */
import { runMain } from '../tools/cli/main';
import { setUpTestTools } from '../tools/stack/test-tools';

const log = (m: string) => process.stderr.write(`[test-setup] ${m}\n`);

runMain('test-setup', async () => {
  await setUpTestTools(log);
});
