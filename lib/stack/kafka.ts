/** Native Apache Kafka 3.9 (KRaft, one combined broker+controller) from Maven Central jars. */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULTS } from '../config';
import { probeKafka } from './probes';
import { STACK_DIR, freePort, hasCommand, isAlive, logTail, run, runningPid, startDetached, stopService, readPort, serviceState, waitUntil } from './proc';
import type { NativeService, ServiceState } from './service';

const NAME = 'kafka';
const MARKER = 'kafka.Kafka';
const KAFKA_DIR = path.join(STACK_DIR, 'kafka');
const LIBS = path.join(KAFKA_DIR, 'libs');
const DATA = path.join(KAFKA_DIR, 'data');
const PROPS = path.join(KAFKA_DIR, 'server.properties');
const LOG4J = path.join(KAFKA_DIR, 'log4j.properties');
const PORT_FILE = path.join(KAFKA_DIR, 'port');
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

export const kafka: NativeService = {
  name: NAME,

  async prepare(log) {
    if (hasJars()) return;
    for (const tool of ['java', 'mvn']) {
      if (!hasCommand(tool)) {
        throw new Error(`kafka: \`${tool}\` not found. Install Java 17 and Maven (Debian: apt-get install -y default-jdk-headless maven).`);
      }
    }
    log('kafka: fetching kafka_2.13 3.9 and its runtime jars from Maven Central (mvn dependency:copy-dependencies)');
    mkdirSync(LIBS, { recursive: true });
    await run('mvn', ['-q', '-B', '-f', POM, 'dependency:copy-dependencies', '-DincludeScope=runtime', `-DoutputDirectory=${LIBS}`], {
      what: 'kafka: mvn dependency:copy-dependencies',
    });
    if (!hasJars()) throw new Error('kafka: Maven finished but no kafka_2.13-3.9.x jar is in .stack/kafka/libs');
  },

  async up(log) {
    let pid = runningPid(NAME, MARKER);
    let port = readPort(PORT_FILE, 0);
    if (!pid) {
      // The port it had before, if any: clients that outlive a restart keep finding it.
      port = await freePort(port || DEFAULTS.kafka.port);
      const controllerPort = await freePort(port + 1, [port]);
      mkdirSync(DATA, { recursive: true });
      writeFileSync(PROPS, serverProperties(port, controllerPort, DATA));
      writeFileSync(LOG4J, LOG4J_PROPERTIES);
      if (!existsSync(path.join(DATA, 'meta.properties'))) {
        log('kafka: formatting KRaft storage');
        const clusterId = newClusterId();
        await java(['-Dlog4j.configuration=file:' + LOG4J, 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', PROPS], 'kafka: StorageTool format');
      }
      log(`kafka: starting on 127.0.0.1:${port} (controller ${controllerPort})`);
      pid = startDetached(NAME, 'java', [
        '-Xms256m', '-Xmx768m', '-XX:+UseG1GC', '-Djava.awt.headless=true',
        `-Dlog4j.configuration=file:${LOG4J}`, `-Dkafka.logs.dir=${path.join(KAFKA_DIR, 'logs')}`,
        '-cp', `${LIBS}/*`, MARKER, PROPS,
      ]);
      writeFileSync(PORT_FILE, String(port));
    }
    const started = pid;
    const brokers = `127.0.0.1:${port}`;
    await waitUntil(
      'kafka',
      () => probeKafka(brokers, DEFAULTS.kafka.topic, { partitions: DEFAULTS.kafka.partitions }),
      120_000,
      () => (isAlive(started) ? undefined : `the broker exited; last lines of .stack/logs/kafka.log:\n${logTail(NAME)}`),
    );
    return brokers;
  },

  down: () => stopService(NAME, runningPid(NAME, MARKER), 30_000),

  async status(): Promise<ServiceState> {
    const port = readPort(PORT_FILE, DEFAULTS.kafka.port);
    return serviceState(port, runningPid(NAME, MARKER), () => probeKafka(`127.0.0.1:${port}`, DEFAULTS.kafka.topic));
  },
};
