/**
 * A child process for the evolution test: opens the stores of a route of a sink file (argv[2]) on
 * the tables and collection the environment names, and readies them, which evolves them; argv[3]
 * is the backfill batch. Each step prints a line, so the test can kill it halfway.
 */
import { loadConfig, loadStackEnv } from '../../lib/config';
import { routeRecordType } from '../../lib/routes/record-type';
import type { RecordType } from '../../lib/records/record-type';
import { openStores } from '../../lib/stores';
import { loadSinkFile } from '../../tools/routes/load';
import { compileValidators } from '../../tools/routes/validators';

async function main(): Promise<void> {
  loadStackEnv();
  const [plan] = loadSinkFile(process.argv[2]).routes;
  const type = routeRecordType(plan, compileValidators([plan])[plan.name]) as RecordType<unknown>;
  const onProgress = (p: { table: string; scanned: number; filled: number }) =>
    console.log(`step ${p.table} ${p.scanned} ${p.filled}`);
  const stores = openStores(loadConfig(), type, { evolution: { batch: Number(process.argv[3]), onProgress } });
  try {
    await stores.ready();
    console.log('done');
  } finally {
    await stores.close();
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
});
