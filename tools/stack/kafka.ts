/** Native Apache Kafka 3.9 (KRaft, one combined broker+controller) from Maven Central jars. */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULTS } from '../../lib/config';
import { probeKafka } from './probes';
import { STACK_DIR, freePort, hasCommand, run, shownPath } from './proc';
import { defineNativeService, type NativeServiceSpec } from './service';

const MARKER = 'kafka.Kafka';
const KAFKA_DIR = path.join(STACK_DIR, 'kafka');
const LIBS = path.join(KAFKA_DIR, 'libs');
const DATA = path.join(KAFKA_DIR, 'data');
const PROPS = path.join(KAFKA_DIR, 'server.properties');
const LOG4J = path.join(KAFKA_DIR, 'log4j.properties');
const POM = path.resolve(__dirname, '..', '..', 'stack', 'kafka', 'pom.xml');

const hasJars = () => existsSync(LIBS) && readdirSync(LIBS).some((f) => /^kafka_2\.13-3\.9\.\d+\.jar$/.test(f));

/** The broker's settings: one node that is its own controller, loopback only, no auto-created topics. */
export function serverProperties(port: number, controllerPort: number, dataDir: string): string {
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
    `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    `log.dirs=${dataDir}`,
    `num.partitions=${DEFAULTS.kafka.partitions}`,
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=3',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'group.initial.rebalance.delay.ms=0',
    'auto.create.topics.enable=false',
    'log.retention.hours=168',
    // Up to the emulator's 6 MB events plus framing.
    'message.max.bytes=10485760',
    '',
  ].join('\n');
}

const LOG4J_PROPERTIES = [
  'log4j.rootLogger=WARN, stdout',
  'log4j.appender.stdout=org.apache.log4j.ConsoleAppender',
  'log4j.appender.stdout.layout=org.apache.log4j.PatternLayout',
  'log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n',
  'log4j.logger.kafka.server.KafkaServer=INFO',
  'log4j.logger.kafka.server.KafkaRaftServer=INFO',
  '',
].join('\n');

function java(args: string[], what: string): Promise<string> {
  return run('java', ['-cp', `${LIBS}/*`, ...args], { what });
}

/**
 * A random KRaft cluster id (16 bytes, base64url). Never one starting with '-': StorageTool's
 * argument parser takes `-t -xyz…` for a missing value (1 in 64 ids did; Kafka's own
 * Uuid.randomUuid() skips them for the same reason).
 */
export function newClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

async function formatStorage(log: (m: string) => void): Promise<void> {
  if (existsSync(path.join(DATA, 'meta.properties'))) return;
  log('formatting KRaft storage');
  const args = ['-Dlog4j.configuration=file:' + LOG4J, 'kafka.tools.StorageTool', 'format'];
  await java([...args, '-t', newClusterId(), '-c', PROPS], 'StorageTool format');
}

const brokersAt = (port: number) => `127.0.0.1:${port}`;

export const kafkaSpec: NativeServiceSpec = {
  name: 'kafka',
  marker: MARKER,
  defaultPort: DEFAULTS.kafka.port,
  portFile: path.join(KAFKA_DIR, 'port'),
  startTimeoutMs: 120_000,
  stop: { graceMs: 30_000 },

  async prepare(log) {
    if (hasJars()) return;
    for (const tool of ['java', 'mvn']) {
      if (!hasCommand(tool)) {
        throw new Error(
          `\`${tool}\` not found. Install Java 17 and Maven (Debian: apt-get install -y default-jdk-headless maven).`,
        );
      }
    }
    log('fetching kafka_2.13 3.9 and its runtime jars from Maven Central (mvn dependency:copy-dependencies)');
    mkdirSync(LIBS, { recursive: true });
    const goal = ['dependency:copy-dependencies', '-DincludeScope=runtime', `-DoutputDirectory=${LIBS}`];
    await run('mvn', ['-q', '-B', '-f', POM, ...goal], { what: 'mvn dependency:copy-dependencies' });
    if (!hasJars()) throw new Error(`Maven finished but no kafka_2.13-3.9.x jar is in ${shownPath(LIBS)}`);
  },

  async beforeStart(port, log) {
    const controllerPort = await freePort(port + 1, [port]);
    mkdirSync(DATA, { recursive: true });
    writeFileSync(PROPS, serverProperties(port, controllerPort, DATA));
    writeFileSync(LOG4J, LOG4J_PROPERTIES);
    await formatStorage(log);
    return `controller ${controllerPort}`;
  },

  command: () => ({
    cmd: 'java',
    args: [
      ...['-Xms256m', '-Xmx768m', '-XX:+UseG1GC', '-Djava.awt.headless=true'],
      `-Dlog4j.configuration=file:${LOG4J}`,
      `-Dkafka.logs.dir=${path.join(KAFKA_DIR, 'logs')}`,
      ...['-cp', `${LIBS}/*`, MARKER, PROPS],
    ],
  }),
  url: brokersAt,
  probe: (port) => probeKafka(brokersAt(port), DEFAULTS.kafka.topic),
  // Clients expect the topic, so `up` creates it (when missing) as part of waiting for the broker.
  readyProbe: (port) => probeKafka(brokersAt(port), DEFAULTS.kafka.topic, { partitions: DEFAULTS.kafka.partitions }),
};

export const kafka = defineNativeService(kafkaSpec);
