/**
 * `npm run dead-letters -- list [--limit N] [--all]` shows dead letters (coordinates, reason, a
 * preview of the value); `npm run dead-letters -- replay --id topic/partition/offset | --all`
 * re-publishes their raw records to Kafka (after the producer or the schema was fixed) and marks
 * them replayed, so replaying twice sends nothing more.
 */
import { parseArgs } from 'node:util';
import { loadConfig, loadStackEnv } from '../lib/config';
import { createKafka } from '../lib/kafka';
import { DeadLetters, printable } from '../lib/sink/dead-letters';

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { limit: { type: 'string', default: '50' }, all: { type: 'boolean', default: false }, id: { type: 'string' } },
  });
  loadStackEnv();
  const config = loadConfig();
  const dl = new DeadLetters(config);
  switch (positionals[0]) {
    case 'list': {
      const rows = await dl.list(Number(values.limit), values.all);
      for (const r of rows) {
        console.log(`${r.id.padEnd(22)} ${r.errorKind.padEnd(10)} ${r.replayedAt ? 'replayed ' : ''}${printable(r.error)}\n${''.padEnd(22)} ${r.preview}`);
      }
      console.log(`${rows.length} dead letter(s)${values.all ? '' : ' not yet replayed'}`);
      return;
    }
    case 'replay': {
      const ids = await dl.replay(createKafka(config, 'quotes-sink-dead-letters'), { id: values.id, all: values.all });
      console.log(ids.length ? `replayed ${ids.length}: ${ids.join(', ')}` : 'nothing to replay (already replayed or no such dead letter)');
      return;
    }
    default:
      throw new Error('usage: npm run dead-letters -- list [--limit N] [--all] | replay (--id topic/partition/offset | --all)');
  }
}

main().then(
  () => process.exit(0),
  (e: Error) => {
    console.error(`dead-letters: ${e.message}`);
    process.exit(1);
  },
);
