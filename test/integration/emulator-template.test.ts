/**
 * The emulator started from a packaged template runs that mapping: its consumer group, batch size,
 * filters (records filtered out are committed, never written), and refuses what AWS would reject.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { uniqueName } from '../helpers/env';
import { readEmulatorStatuses } from '../../tools/ui/status-file';
import { committedOffsets, lane, produce, runEmulator, type Lane } from '../helpers/lane';

const tmp = mkdtempSync(path.join(tmpdir(), 'quotes-sink-template-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function template(name: string, props: Record<string, unknown>): string {
  const file = path.join(tmp, `${name}.json`);
  const mapping = {
    Type: 'AWS::Lambda::EventSourceMapping',
    Properties: {
      Topics: ['quotes'],
      SelfManagedEventSource: { Endpoints: { KafkaBootstrapServers: ['127.0.0.1:9092'] } },
      StartingPosition: 'TRIM_HORIZON',
      ...props,
    },
  };
  writeFileSync(file, JSON.stringify({ Resources: { SinkEventSourceMappingKafka: mapping } }));
  return file;
}

describe('npm run local --from-template', () => {
  let l: Lane;
  before(async () => (l = await lane('template')));
  after(() => l.close());

  test("the template's group, batch size and filter: filtered records are committed and never written", async () => {
    await produce(l, ['--synthetic', '300', '--seed', '3']);
    const group = uniqueName('deployed');
    const file = template('filter', {
      BatchSize: 40,
      SelfManagedKafkaEventSourceConfig: { ConsumerGroupId: group },
      FilterCriteria: { Filters: [{ Pattern: JSON.stringify({ partition: [0] }) }] },
    });
    const r = await runEmulator(l, ['--from-template', file, '--until-idle']);
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /mapping {3}SinkEventSourceMappingKafka of /);
    const marks = await l.admin.fetchTopicOffsets(l.topic);
    const inPartition0 = Number(marks.find((m) => m.partition === 0)?.high);
    assert.match(r.output, new RegExp(`${300 - inPartition0} filtered out`));
    assert.equal((await l.sb.counts()).rows, inPartition0);
    const committed = await committedOffsets(l, group);
    for (const m of marks) assert.equal(committed[m.partition], Number(m.high), `partition ${m.partition} committed`);
    // Published for the UI, with the handler's metric names.
    const [published] = readEmulatorStatuses({ topic: l.topic });
    assert.equal(published?.state, 'stopped');
    assert.equal(published?.groupId, group);
    assert.equal(published?.records, inPartition0);
    const batches = r.output.split('\n').filter((line) => line.includes('"batch written"'));
    for (const line of batches)
      assert.ok((JSON.parse(line) as { summary: { received: number } }).summary.received <= 40);
  });

  test('a template AWS would reject: exit 2, one line per violation', async () => {
    const file = template('bad', { BatchSize: 0, MaximumRetryAttempts: 3 });
    const r = await runEmulator(l, ['--from-template', file, '--until-idle']);
    assert.equal(r.code, 2, r.output);
    const lines = r.output.trim().split('\n');
    assert.ok(
      lines.some((x) => /^local: SinkEventSourceMappingKafka: BatchSize 0 is outside 1\.\.10000/.test(x)),
      r.output,
    );
    assert.ok(
      lines.some((x) => /MaximumRetryAttempts is an error handling control of provisioned mode/.test(x)),
      r.output,
    );
  });
});
