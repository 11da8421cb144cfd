/**
 * A Confluent-compatible schema registry, natively: Apicurio Registry 2.6 (Quarkus, Java 17) from
 * the prebuilt distribution on Maven Central, in-memory storage (every start is empty). Only
 * `up --registry` starts it; its Confluent API is under `/apis/ccompat/v7`.
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { probeHttp } from './probes';
import { STACK_DIR, hasCommand, run, shownPath } from './proc';
import { defineNativeService, type NativeServiceSpec } from './service';

/** The version stack/apicurio/pom.xml fetches. */
export const APICURIO_VERSION = '2.6.13.Final';
const RUNNER = `apicurio-registry-app-${APICURIO_VERSION}-runner.jar`;
const APICURIO_DIR = path.join(STACK_DIR, 'apicurio');
const DIST = path.join(APICURIO_DIR, 'dist');
const JAR = path.join(DIST, RUNNER);
const POM = path.resolve(__dirname, '..', '..', 'stack', 'apicurio', 'pom.xml');
/** Not Confluent's 8081: mongo-express of `up --uis` listens there. */
export const REGISTRY_PORT = 18081;

/** The Confluent-compatible API at `port`: what SCHEMA_REGISTRY_URL holds. */
export const registryUrl = (port: number) => `http://127.0.0.1:${port}/apis/ccompat/v7`;

export const apicurioSpec: NativeServiceSpec = {
  name: 'apicurio',
  marker: RUNNER,
  defaultPort: REGISTRY_PORT,
  portFile: path.join(APICURIO_DIR, 'port'),
  startTimeoutMs: 120_000,
  stop: { graceMs: 10_000 },

  async prepare(log) {
    if (existsSync(JAR)) return;
    for (const tool of ['java', 'mvn']) {
      if (!hasCommand(tool)) {
        throw new Error(
          `\`${tool}\` not found. Install Java 17 and Maven (Debian: apt-get install -y default-jdk-headless maven).`,
        );
      }
    }
    log(`fetching Apicurio Registry ${APICURIO_VERSION} (142 MB) from Maven Central and unpacking it`);
    mkdirSync(DIST, { recursive: true });
    const goal = ['dependency:unpack-dependencies', `-DoutputDirectory=${DIST}`];
    await run('mvn', ['-q', '-B', '-f', POM, ...goal], { what: 'mvn dependency:unpack-dependencies' });
    if (!existsSync(JAR)) throw new Error(`Maven finished but ${shownPath(JAR)} is missing`);
  },

  command: (port) => ({
    cmd: 'java',
    args: [
      // Bounded heap, and a quick start rather than peak throughput (a test registry).
      ...['-Xms64m', '-Xmx384m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Djava.awt.headless=true'],
      // Quarkus' prod default host is 0.0.0.0: loopback only. 2.6 has no separate management port.
      ...['-Dquarkus.http.host=127.0.0.1', `-Dquarkus.http.port=${port}`],
      ...['-jar', JAR],
    ],
    options: { cwd: DIST },
  }),
  url: registryUrl,
  probe: (port) => probeHttp(`http://127.0.0.1:${port}/health/ready`).catch(() => false),
};

export const apicurio = defineNativeService(apicurioSpec);
