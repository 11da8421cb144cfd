/**
 * `npm run produce -- [--url URL | --api | --file PATH | --synthetic N] [options]`: the tutorial's
 * NiFi flow (GetHTTP → SplitJson → PublishKafka) as a command. With no source it publishes the
 * sample quotes shipped in data/, so it works offline.
 *
 *   --topic T            topic (default KAFKA_TOPIC, "quotes")
 *   --no-key             publish without keys (default: key = character)
 *   --every SECONDS      repeat the fetch, like NiFi's scheduler, until Ctrl-C
 *   --synthetic N        N generated quotes (--seed S for repeatability)
 *   --invalid-ratio R    share of bad records mixed in (synthetic only), e.g. 0.05
 */
import { parseArgs } from 'node:util';
import { loadConfig, loadStackEnv } from '../lib/config';
import { createKafka } from '../lib/kafka';
import { QUOTES_API_URL, SAMPLE_FILE, fetchQuotes, publish, quoteMessages, readQuotes, syntheticMessages } from '../lib/producer/publish';
import { progressBar } from '../lib/progress';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      api: { type: 'boolean', default: false },
      file: { type: 'string' },
      synthetic: { type: 'string' },
      seed: { type: 'string', default: '42' },
      'invalid-ratio': { type: 'string', default: '0' },
      topic: { type: 'string' },
      'no-key': { type: 'boolean', default: false },
      every: { type: 'string' },
    },
  });
  loadStackEnv();
  const config = loadConfig();
  const topic = values.topic ?? config.KAFKA_TOPIC;
  const kafka = createKafka(config, 'quotes-sink-producer');
  const key = !values['no-key'];
  const started = Date.now();

  if (values.synthetic !== undefined) {
    const n = Number(values.synthetic);
    const ratio = Number(values['invalid-ratio']);
    if (!Number.isInteger(n) || n < 0) throw new Error('--synthetic takes a whole number');
    if (!(ratio >= 0 && ratio <= 1)) throw new Error('--invalid-ratio takes a number from 0 to 1');
    const bar = progressBar(n, 'records');
    const sent = await publish(kafka, topic, syntheticMessages(n, Number(values.seed), ratio, { key, source: 'synthetic' }), bar.update);
    bar.done();
    const invalid = Math.floor(n * ratio);
    report(sent, topic, started, `(${sent - invalid} valid, ${invalid} invalid, seed ${values.seed})`);
    return;
  }

  const url = values.url ?? (values.api ? QUOTES_API_URL : undefined);
  const source = url ?? values.file ?? SAMPLE_FILE;
  const once = async () => {
    const quotes = url ? await fetchQuotes(url) : readQuotes(values.file ?? SAMPLE_FILE);
    const bar = progressBar(quotes.length, 'records');
    const sent = await publish(kafka, topic, quoteMessages(quotes, { key, source }), bar.update);
    bar.done();
    report(sent, topic, started, `from ${source}`);
  };
  await once();
  if (values.every) {
    const ms = Number(values.every) * 1000;
    if (!(ms > 0)) throw new Error('--every takes a number of seconds');
    let stop = false;
    process.once('SIGINT', () => (stop = true));
    process.once('SIGTERM', () => (stop = true));
    while (!stop) {
      await new Promise((r) => setTimeout(r, ms));
      if (!stop) await once().catch((e: Error) => console.error(`fetch failed, trying again in ${values.every}s: ${e.message}`));
    }
  }
}

function report(sent: number, topic: string, started: number, what: string): void {
  const s = (Date.now() - started) / 1000;
  console.log(`produced ${sent} records to ${topic} ${what} in ${s.toFixed(1)}s (${Math.round(sent / Math.max(s, 0.001))} records/s)`);
}

main().catch((e: Error) => {
  console.error(`produce failed: ${e.message}`);
  process.exit(1);
});
