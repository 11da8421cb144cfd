/** A lane: a topic of 3 partitions, a consumer group, tables and a collection of one test's own. */
import assert from 'node:assert/strict';
import { createKafka } from '../../lib/kafka';
import { uniqueName } from './env';
import { runCommand, TSX } from './run';
import { sandbox, type Sandbox } from './sink';

export interface Lane {
  sb: Sandbox;
  env: Record<string, string>;
  topic: string;
  close(): Promise<void>;
}

export async function lane(name: string): Promise<Lane> {
  const sb = await sandbox(name);
  const topic = uniqueName(`t_${name}`);
  const kafka = createKafka(sb.config, 'pipeline-test');
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 3, replicationFactor: 1 }] });
  const env = { ...sb.env, KAFKA_TOPIC: topic, KAFKA_GROUP_ID: uniqueName('g'), LOG_LEVEL: 'warn' };
  return {
    sb,
    env,
    topic,
    async close() {
      await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
      await admin.disconnect();
      await sb.close();
    },
  };
}

export const produce = async (l: Lane, args: string[]) => {
  const r = await runCommand(TSX, ['cli/produce.ts', ...args], l.env);
  assert.equal(r.code, 0, `produce failed:\n${r.stdout}${r.stderr}`);
  return r.stdout;
};
export const emulate = async (l: Lane, args: string[] = [], env: Record<string, string> = {}) => {
  const r = await runCommand(TSX, ['cli/local.ts', '--until-idle', ...args], { ...l.env, ...env }, 300_000);
  assert.equal(r.code, 0, `emulator failed:\n${r.stdout}${r.stderr}`);
  return r.stderr;
};

