/**
 * Issue 19 "Done when": a randomized lifecycle test. Each seed drives one lane (its own topic,
 * destination topic, tables and collection) through random steps: produce (valid quotes, bad JSON,
 * schema failures, keyed tombstones, forged identity headers), sink (new records, backfills of old
 * ranges, other spellings of the brokers and the MSK shape, one cluster id), store refusals (a
 * unique index on `quote` and a blocking document), batches failed into a Kafka destination and
 * redriven, dead-letter replays (some after fixing the value in the table, some as new records),
 * re-created topics, and the CLIs killed with SIGKILL at a random point and run again.
 *
 * After every step it checks the invariant against the databases: every record produced and
 * delivered is in both stores with its exact content, or in exactly one dead letter with its exact
 * bytes (pending, or replayed while the replay is still on the topic), or superseded by a later
 * tombstone of its key (absent from both stores); nothing is stored that no produced record
 * explains (nothing forged, no duplicate).
 *
 * `LIFECYCLE_SEED=<n>` replays one seed; `LIFECYCLE_SEEDS=<n>` runs seeds 1..n;
 * `LIFECYCLE_STEPS=<n>` sets the steps per seed. The bugs it found (A to G, and two more at seeds
 * 17 and 19 of 24) each have a test of their own in identity.test.ts.
 */
import { prng } from '../../tools/producer/synthetic';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import type { Admin, Consumer, IHeaders, Kafka, KafkaMessage, Message, Producer } from 'kafkajs';
import { MongoClient, type Collection, type Document } from 'mongodb';
import { PROJECT_ROOT } from '../../lib/config';
import type { DeadLetterTableRow } from '../../lib/postgres/dead-letters';
import { kafkaFailureRecord } from '../../tools/emulator/destination';
import { redriveTopic } from '../../tools/replay/redrive';
import { buildEvent, fromKafkaMessage, type EventShape } from '../../tools/emulator/event';
import {
  eventClusterKey,
  formatCoordinates,
  partitionKey,
  IDENTITY_HEADER,
  parseStoredId,
  type Coordinates,
} from '../../lib/event/coordinates';
import { decodeHeaders, type StoredHeader } from '../../lib/event/decode';
import { fingerprint, isResendHeader, signIdentity, verifyIdentity } from '../../lib/event/identity';
import type { KafkaEventRecord } from '../../lib/event/types';
import { clusterIdOf, createKafka } from '../../tools/kafka';
import { quoteType } from '../helpers/quote-type';
import { typeFields } from '../../lib/records/record-type';
import { BatchWriteError, StoreWriteError } from '../../lib/sink/errors';
import { IncompleteBatchError, processBatch, type BatchOptions } from '../../lib/sink/batch';
import { DeadLetters } from '../../tools/replay/dead-letters';
import { expandHeaders, keyBase64Of, rebuildText } from '../../lib/sink/value-parts';
import { uniqueName } from '../helpers/env';
import { failWhile } from '../helpers/faults';
import { sandbox, type Sandbox } from '../helpers/sink';

const PARTITIONS = 2;
const STEPS = Number(process.env.LIFECYCLE_STEPS ?? 20);
const SEEDS = process.env.LIFECYCLE_SEED
  ? [Number(process.env.LIFECYCLE_SEED)]
  : Array.from({ length: Number(process.env.LIFECYCLE_SEEDS ?? 8) }, (_, i) => i + 1);
const FIELDS = typeFields(quoteType);
/** The header every produced record carries: its serial, so the model knows what it produced. */
const SERIAL = 'lt';

type Kind = 'valid' | 'bad' | 'tomb';
type State = 'pending' | 'away' | 'due' | 'moved';

interface Identity {
  cluster: string;
  coordinates: Coordinates;
}

/** One record as produced (or re-sent as a new record), and what became of it. */
interface Entry {
  serial: number;
  /** Order of production within the lane (per partition it is offset order). */
  seq: number;
  gen: number;
  id: Identity;
  kind: Kind;
  /** The identity header it carried that does not verify. */
  forged?: string;
  timestamp: number;
  keyB64: string | null;
  valueB64: string | null;
  /** Headers as decoded, the re-senders' left out (what a stored copy keeps). */
  headers: StoredHeader[];
  /** Fingerprint of its current content (a fixed dead letter changes it). */
  fp: string;
  /** Fingerprint it was dead-lettered under (the dead letter's key). */
  origFp: string;
  /** pending: on the topic, not delivered; away: in the on-failure destination; due: delivered; moved: replayed as a new record. */
  state: State;
  /** A tombstone delivered as such (with TOMBSTONES=delete). */
  applied?: boolean;
  /** Its dead letter's value was fixed in the table. */
  fixed?: boolean;
  /** Sent to the on-failure destination and not redriven yet. */
  inDestination?: boolean;
  /** Delivered through a re-sent copy (replay, redrive). */
  resent?: boolean;
}

const idKey = (id: Identity) => `${id.cluster}/${formatCoordinates(id.coordinates)}`;
const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const text = (v: string | null) => (v === null ? null : Buffer.from(v, 'base64').toString('utf8'));
/** JSON round trip: what a jsonb column gives back (no undefined fields). */
const plain = (v: unknown) => JSON.parse(JSON.stringify(v)) as unknown;

interface PgRow {
  cluster: string;
  topic: string;
  partition: number;
  offset: string;
  fingerprint: string | null;
  kafka_key: string | null;
  kafka_key_base64: string | null;
  raw_value: string | null;
  extra: Record<string, unknown> | null;
  headers: StoredHeader[];
  kafka_timestamp: Date;
  [column: string]: unknown;
}

/** A dead-letter row: the table's one row shape. */
type DlRow = DeadLetterTableRow;

/** Runs a CLI under node in its own process group; `killAfterMs` sends SIGKILL to the group then. */
async function runCli(
  args: string[],
  env: Record<string, string>,
  killAfterMs?: number,
): Promise<{ code: number | null; killed: boolean; output: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  let killed = false;
  const kill = () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    killed = true;
    try {
      process.kill(-(child.pid as number), 'SIGKILL');
    } catch {
      // already gone
    }
  };
  const timers = [setTimeout(kill, 120_000)];
  if (killAfterMs !== undefined) timers.push(setTimeout(kill, killAfterMs));
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  timers.forEach(clearTimeout);
  return { code, killed, output };
}

/** Everything on the lane's topic, read by one consumer per topic generation. */
class TopicReader {
  readonly byPartition: KafkaEventRecord[][] = Array.from({ length: PARTITIONS }, () => []);
  private consumer?: Consumer;

  constructor(
    private readonly kafka: Kafka,
    private readonly admin: Admin,
    private readonly topic: string,
  ) {}

  async start(): Promise<void> {
    this.byPartition.forEach((p) => (p.length = 0));
    const consumer = this.kafka.consumer({ groupId: uniqueName('lt-read'), maxWaitTimeInMs: 50 });
    await consumer.connect();
    await consumer.subscribe({ topic: this.topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }: { partition: number; message: KafkaMessage }) => {
        this.byPartition[partition][Number(message.offset)] = fromKafkaMessage(this.topic, partition, message);
      },
    });
    this.consumer = consumer;
  }

  /** The high watermarks, once every record below them has been read. */
  async upToEnd(): Promise<number[]> {
    const marks = await this.admin.fetchTopicOffsets(this.topic);
    const highs = Array.from({ length: PARTITIONS }, (_, p) => Number(marks.find((m) => m.partition === p)?.high ?? 0));
    const deadline = Date.now() + 30_000;
    while (!highs.every((h, p) => h === 0 || this.byPartition[p][h - 1] !== undefined)) {
      if (Date.now() > deadline) throw new Error(`reader did not reach ${highs.join(',')} on ${this.topic}`);
      await sleep(25);
    }
    return highs;
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
    this.consumer = undefined;
  }
}

/** One seed's lane, model and steps. */
class Life {
  readonly rnd: () => number;
  readonly steps: string[] = [];
  private readonly entries = new Map<string, Entry[]>();
  private readonly all: Entry[] = [];
  /** Kind of each produced serial. */
  private readonly kinds = new Map<number, Kind>();
  /** Valid signed identity headers seen on re-sent copies: material for forgeries. */
  private readonly seenHeaders: string[] = [];
  /** Quotes a blocking document refuses: the next valid records produced use them. */
  private readonly toBlock: string[] = [];
  private blockers = 0;
  /** Checking the state a killed CLI left: tombstones it read may be applied already. */
  private midKill = false;
  private serial = 0;
  private seq = 0;
  private gen = 1;
  /** Per partition: records classified into the model, and records delivered to the sink. */
  private known: number[] = new Array<number>(PARTITIONS).fill(0);
  private cursor: number[] = new Array<number>(PARTITIONS).fill(0);
  /** By `gen/partition/offset`: what each message on the topic is, and the fingerprint it carries. */
  private readonly classified = new Map<string, Classified>();

  private sb!: Sandbox;
  private kafka!: Kafka;
  private admin!: Admin;
  private producer!: Producer;
  private mongo!: MongoClient;
  private docs!: Collection<Document>;
  private reader!: TopicReader;
  private topic = '';
  private dest = '';
  private redriveGroup = '';
  private clusterId = '';
  private cluster = '';
  private key = '';
  private env: Record<string, string> = {};
  private opts!: BatchOptions;

  constructor(readonly seed: number) {
    this.rnd = prng(seed);
  }

  int(n: number): number {
    return Math.floor(this.rnd() * n);
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }

  async open(): Promise<void> {
    this.sb = await sandbox(`life${this.seed}`);
    this.key = this.sb.config.SINK_IDENTITY_KEY as string;
    assert.ok(this.key, 'SINK_IDENTITY_KEY from .stack/env');
    this.kafka = createKafka(this.sb.config, 'lifecycle-test');
    this.admin = this.kafka.admin();
    await this.admin.connect();
    this.topic = uniqueName(`t_life${this.seed}`);
    this.dest = `${this.topic}_dlq`;
    this.redriveGroup = uniqueName('lt-redrive');
    await this.admin.createTopics({
      waitForLeaders: true,
      topics: [
        { topic: this.topic, numPartitions: PARTITIONS, replicationFactor: 1 },
        { topic: this.dest, numPartitions: 1, replicationFactor: 1 },
      ],
    });
    this.clusterId = await clusterIdOf(this.sb.config, this.kafka);
    this.cluster = eventClusterKey({}, this.clusterId);
    this.opts = { tombstones: 'delete', identityKey: this.key, clusterId: this.clusterId };
    this.producer = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await this.producer.connect();
    this.mongo = await MongoClient.connect(this.sb.config.MONGO_URL);
    this.docs = this.mongo.db(this.sb.config.MONGO_DATABASE).collection(this.sb.config.MONGO_COLLECTION);
    // Store refusals: a unique index on the quote, and blocking documents (finding 1).
    await this.sb.ready();
    await this.docs.createIndex({ quote: 1 }, { unique: true });
    this.reader = new TopicReader(this.kafka, this.admin, this.topic);
    await this.reader.start();
    this.env = {
      ...this.sb.env,
      KAFKA_TOPIC: this.topic,
      TOMBSTONES: 'delete',
      LOG_LEVEL: 'warn',
    };
  }

  async close(): Promise<void> {
    await this.reader?.stop().catch(() => undefined);
    await this.producer?.disconnect().catch(() => undefined);
    await this.admin?.deleteTopics({ topics: [this.topic, this.dest] }).catch(() => undefined);
    await this.admin?.disconnect().catch(() => undefined);
    await this.mongo?.close().catch(() => undefined);
    await this.sb?.close().catch(() => undefined);
  }

  // ---- the model -------------------------------------------------------------------------

  private entriesAt(id: Identity): Entry[] {
    return this.entries.get(idKey(id)) ?? [];
  }

  private addEntry(e: Entry): void {
    const k = idKey(e.id);
    this.entries.set(k, [...(this.entries.get(k) ?? []), e]);
    this.all.push(e);
  }

  /** Classifies one record read from the topic: an original (a new entry), or a re-sent copy of one. */
  private classify(r: KafkaEventRecord): Classified {
    const k = `${this.gen}/${r.partition}/${r.offset}`;
    const known = this.classified.get(k);
    if (known) return known;
    const headers = decodeHeaders(r.headers);
    const keyBase64 = r.key ?? undefined;
    const valueBase64 = r.value ?? undefined;
    const content = { keyBase64, valueBase64, headers };
    const carried = headers.find((h) => h.name === IDENTITY_HEADER && h.nameBase64 === undefined);
    let out: Classified;
    const verified = carried ? verifyIdentity(carried.value ?? '', this.key, content) : undefined;
    if (verified?.ok) {
      const v = verified.identity;
      // A copy of its current content, or of the original one (a redrive of the bytes that failed,
      // sent after its dead letter was fixed in the table).
      const e = this.entriesAt(v).find((x) => x.fp === v.fingerprint || x.origFp === v.fingerprint);
      if (!e) throw new Error(`model: a re-sent copy ${formatCoordinates(r)} of ${idKey(v)} that no entry explains`);
      if (carried?.value) this.seenHeaders.push(carried.value);
      out = { copyOf: e, fp: v.fingerprint };
    } else {
      const serial = Number(headers.find((h) => h.name === SERIAL)?.value);
      const fp = fingerprint({ ...content, timestamp: r.timestamp });
      const own: Entry = {
        serial,
        seq: ++this.seq,
        gen: this.gen,
        id: { cluster: this.cluster, coordinates: { topic: r.topic, partition: r.partition, offset: r.offset } },
        kind: this.kinds.get(serial) ?? (r.value === null || r.value === undefined ? 'tomb' : 'bad'),
        forged: carried && !verified?.ok ? (carried.value ?? '') : undefined,
        timestamp: r.timestamp,
        keyB64: r.key ?? null,
        valueB64: r.value ?? null,
        headers,
        fp,
        origFp: fp,
        state: 'pending',
      };
      this.addEntry(own);
      out = { own, fp };
    }
    this.classified.set(k, out);
    return out;
  }

  /** Reads the topic to its end and classifies what is new. */
  private async sync(): Promise<number[]> {
    const highs = await this.reader.upToEnd();
    for (let p = 0; p < PARTITIONS; p++) {
      for (let o = this.known[p]; o < highs[p]; o++) this.classify(this.reader.byPartition[p][o]);
      this.known[p] = highs[p];
    }
    return highs;
  }

  /** The record reached the sink, and the sink's batch succeeded. */
  private delivered(r: KafkaEventRecord): void {
    const c = this.classify(r);
    const e = (c.copyOf ?? c.own) as Entry;
    if (e.state !== 'moved') e.state = 'due';
    if (c.copyOf) e.resent = true;
    if (e.kind === 'tomb' && !(c.own && e.forged !== undefined)) e.applied = true;
    // A collision replayed as a new record: it lives on under its new identity.
    const of = r.headers.find((h) => 'dead-letter-of' in h)?.['dead-letter-of'];
    if (c.own && of) {
      const coords = Buffer.from(of.map((b) => b & 0xff)).toString('utf8');
      const source = this.all.find(
        (x) => x !== e && x.serial === e.serial && formatCoordinates(x.id.coordinates) === coords,
      );
      if (source) source.state = 'moved';
    }
  }

  private range(from: number[], to: number[]): KafkaEventRecord[] {
    const out: KafkaEventRecord[] = [];
    for (let p = 0; p < PARTITIONS; p++) for (let o = from[p]; o < to[p]; o++) out.push(this.reader.byPartition[p][o]);
    return out;
  }

  // ---- steps ---------------------------------------------------------------------------

  private quoteValue(serial: number, quote?: string): string {
    return JSON.stringify({
      quote: quote ?? `Quote ${this.seed}-${serial}: Mmm... donuts.`,
      character: `Character ${serial % 7}`,
      image: `https://example.test/${serial}.png`,
      characterDirection: serial % 2 ? 'Left' : 'Right',
    });
  }

  /** An identity header that must not verify: the old unsigned form, a copied one, or another key's. */
  private forgery(partition: number): string {
    const roll = this.int(3);
    if (roll === 0 && this.seenHeaders.length > 0) return this.pick(this.seenHeaders);
    const coordinates = { topic: this.topic, partition, offset: this.int(20) };
    if (roll === 1)
      return signIdentity(
        { cluster: this.cluster, coordinates, timestamp: 1, fingerprint: 'AAAAAAAAAAAAAAAAAAAAAA' },
        'not-the-sink-identity-key-32chr!',
      );
    return `${this.cluster}/${this.topic}/${partition}/${coordinates.offset}`;
  }

  async produce(n: number, forge = true): Promise<string> {
    const byPartition: Message[][] = Array.from({ length: PARTITIONS }, () => []);
    const made: string[] = [];
    for (let i = 0; i < n; i++) {
      const serial = ++this.serial;
      const partition = this.int(PARTITIONS);
      const key = this.rnd() < 0.15 ? null : `k${this.int(4)}`;
      const roll = this.rnd();
      let kind: Kind;
      let value: string | null;
      if (key !== null && roll < 0.14) [kind, value] = ['tomb', null];
      else if (roll < 0.26) [kind, value] = ['bad', `{"quote": "broken ${serial}"`];
      else if (roll < 0.36) [kind, value] = ['bad', JSON.stringify({ quote: serial, character: 'x' })];
      else {
        const quote = this.toBlock.shift();
        [kind, value] = ['valid', this.quoteValue(serial, quote)];
      }
      const headers: IHeaders = { [SERIAL]: String(serial) };
      if (this.rnd() < 0.3) headers.h = `v${this.int(3)}`;
      const forged = this.rnd() < 0.12 && forge;
      if (forged) headers[IDENTITY_HEADER] = this.forgery(partition);
      this.kinds.set(serial, kind);
      byPartition[partition].push({ key, value, headers, partition });
      made.push(`${serial}:${kind}${forged ? '+forged' : ''}@p${partition}${key ? `/${key}` : ''}`);
    }
    for (const messages of byPartition)
      if (messages.length > 0) await this.producer.send({ topic: this.topic, acks: -1, messages });
    return `produce ${made.join(' ')}`;
  }

  private batchShape(): { shape: EventShape; servers: string; chunk: number } {
    // One cluster id, however the brokers are spelled (finding 8): the identity must not change.
    const servers = this.pick(['127.0.0.1:9092', 'localhost:9092', 'LOCALHOST:9092,127.0.0.1:9092']);
    return { shape: this.rnd() < 0.3 ? 'msk' : 'self-managed', servers, chunk: this.pick([2, 3, 500]) };
  }

  /** Sinks what the sink has not had yet (or, `backfill`, an old range again up to the end). */
  async sink(backfill = false): Promise<string> {
    const highs = await this.sync();
    const from = backfill ? this.cursor.map((c) => this.int(c + 1)) : this.cursor;
    const records = this.range(from, highs);
    const how = this.batchShape();
    const label = `${backfill ? 'backfill' : 'sink'} ${from.join(',')}..${highs.join(',')} ${how.shape} ${how.servers} chunk=${how.chunk}`;
    if (records.length === 0) return `${label} (nothing)`;
    const dead: Record<string, number> = {};
    let valid = 0;
    let deleted = 0;
    const event = buildEvent(how.shape, how.servers, records);
    const s = await processBatch(event, quoteType, this.sb, { ...this.opts, writeChunk: how.chunk });
    records.forEach((r) => this.delivered(r));
    valid += s.valid;
    deleted += s.tombstones.deleted;
    for (const [k, n] of Object.entries(s.deadLettered.byKind)) dead[k] = (dead[k] ?? 0) + n;
    this.cursor = highs;
    return `${label}: valid ${valid}, dead ${JSON.stringify(dead)}, tombstones ${deleted}`;
  }

  /** The next valid quote produced is refused by Mongo: a blocking document holds it (unique index). */
  async block(): Promise<string> {
    const quote = `Blocked quote ${this.seed}-${++this.blockers}`;
    await this.docs.insertOne({ _id: `blocker-${this.blockers}` as never, quote });
    this.toBlock.push(quote);
    return `block ${JSON.stringify(quote)}`;
  }

  async unblock(): Promise<string> {
    const r = await this.docs.deleteMany({ _id: { $regex: /^blocker-/ } as never });
    this.toBlock.length = 0;
    return `unblock (${r.deletedCount} blocking documents removed)`;
  }

  /** New records whose batch fails in a store, sent to the on-failure destination as the emulator would. */
  async fail(): Promise<string> {
    await this.sink();
    const produced = await this.produce(1 + this.int(4));
    const highs = await this.sync();
    const records = this.range(this.cursor, highs);
    const store = this.pick(['postgres', 'mongo'] as const);
    const how = this.batchShape();
    const failing = failWhile(this.sb, store, () => true);
    const event = buildEvent(how.shape, how.servers, records);
    await assert.rejects(processBatch(event, quoteType, failing, { ...this.opts, writeChunk: how.chunk }));
    const batch = { records, condition: 'RetryAttemptsExhausted' as const, invokeCount: 3 };
    const ctx = { source: how.shape, bootstrapServers: how.servers };
    await this.producer.send({
      topic: this.dest,
      acks: -1,
      messages: records.map((r) => ({
        key: r.key ? Buffer.from(r.key, 'base64') : null,
        value: JSON.stringify(kafkaFailureRecord(r, batch, ctx)),
      })),
    });
    for (const r of records) {
      const c = this.classify(r);
      const e = (c.copyOf ?? c.own) as Entry;
      if (e.state === 'pending') e.state = 'away';
      e.inDestination = true;
    }
    this.cursor = highs;
    return `sink the tail, then fail (${store} down) ${produced.slice('produce '.length)} → destination`;
  }

  /**
   * New records sunk with partial batch responses while one chunk's write fails in a store; the
   * mapping then retries each partition from the offset the response names (finding 5).
   */
  async partial(): Promise<string> {
    const highs = await this.sync();
    const records = this.range(this.cursor, highs);
    if (records.length < 3) return `partial (${records.length} new records: nothing to split)`;
    const store = this.pick(['postgres', 'mongo'] as const);
    const failAt = 1 + this.int(3);
    let calls = 0;
    const flaky = failWhile(this.sb, store, () => ++calls === failAt);
    const how = this.batchShape();
    const options = { ...this.opts, partialResponse: true, writeChunk: 2 };
    const label = `partial ${this.cursor.join(',')}..${highs.join(',')}, ${store} write ${failAt} fails`;
    let retry = records;
    try {
      await processBatch(buildEvent(how.shape, how.servers, records), quoteType, flaky, options);
      retry = [];
    } catch (e) {
      if (e instanceof IncompleteBatchError) {
        const from = new Map(
          e.batchItemFailures.map((f) => [f.itemIdentifier['topic-partition'], f.itemIdentifier.offset]),
        );
        retry = records.filter((r) => r.offset >= (from.get(partitionKey(r)) ?? Infinity));
      } else if (!(e instanceof StoreWriteError || e instanceof BatchWriteError)) throw e;
    }
    if (retry.length > 0) await processBatch(buildEvent(how.shape, how.servers, retry), quoteType, this.sb, options);
    records.forEach((r) => this.delivered(r));
    this.cursor = highs;
    return `${label}: retried ${retry.length} of ${records.length}`;
  }

  async redrive(): Promise<string> {
    const r = await redriveTopic(this.kafka, this.producer, this.dest, this.redriveGroup, {
      key: this.key,
      clusterId: this.clusterId,
    });
    this.redriven();
    return `redrive: ${r.records} records from ${r.entries} messages`;
  }

  /** The destination was redriven to its end: its records' copies are on the topic. */
  private redriven(): void {
    for (const e of this.all) e.inDestination = false;
  }

  private async pendingDeadLetters(kinds?: string[]): Promise<DlRow[]> {
    return this.sb.query<DlRow>(
      `select * from ${this.sb.tables.deadLetters} where replayed_at is null and superseded_by is null and stored_at is null
       ${kinds ? 'and error_kind = any($1)' : ''} order by partition, "offset", fingerprint`,
      kinds ? [kinds] : [],
    );
  }

  /** Fixes some bad dead letters in the table (allowed: the value was wrong), then replays. */
  async fixAndReplay(): Promise<string> {
    const bad = await this.pendingDeadLetters(['json', 'schema']);
    const fixed: string[] = [];
    for (const row of bad.filter(() => this.rnd() < 0.6)) {
      const e = this.entriesAt({
        cluster: row.cluster,
        coordinates: { topic: row.topic, partition: row.partition, offset: Number(row.offset) },
      }).find((x) => x.origFp === row.fingerprint);
      if (!e) continue; // reported by the invariant as unexplained
      const value = b64(this.quoteValue(e.serial, `Fixed quote ${this.seed}-${e.serial}`));
      await this.sb.query(
        `update ${this.sb.tables.deadLetters} set value_base64 = $1
         where cluster = $2 and topic = $3 and partition = $4 and "offset" = $5 and fingerprint = $6`,
        [value, row.cluster, row.topic, row.partition, row.offset, row.fingerprint],
      );
      e.valueB64 = value;
      e.kind = 'valid';
      e.fixed = true;
      this.kinds.set(e.serial, 'valid');
      e.fp = fingerprint({ timestamp: e.timestamp, keyBase64: e.keyB64, valueBase64: value, headers: e.headers });
      fixed.push(formatCoordinates(e.id.coordinates));
    }
    return `fix [${fixed.join(' ')}]; ${await this.replay('all')}`;
  }

  async replay(how: 'all' | 'id' | 'as-new'): Promise<string> {
    const dl = new DeadLetters(this.sb.config);
    if (how === 'id') {
      const rows = await this.pendingDeadLetters();
      if (rows.length === 0) return 'replay --id (none pending)';
      const row = this.pick(rows);
      const id = formatCoordinates({ topic: row.topic, partition: row.partition, offset: Number(row.offset) });
      const r = await dl.replay(this.kafka, { id });
      return `replay --id ${id}: ${r.replayed.length} sent`;
    }
    const r = await dl.replay(this.kafka, { all: true, asNew: how === 'as-new' });
    return `replay --all${how === 'as-new' ? ' --as-new' : ''}: ${r.replayed.length} sent, ${r.collisions} collisions left`;
  }

  /** Deletes and re-creates the topic: the new records reuse the old offsets (collisions). */
  async recreate(): Promise<string> {
    // What is in flight is delivered first: a re-sent copy on the deleted topic would be gone.
    await this.redrive();
    await this.sink();
    await this.reader.stop();
    await this.admin.deleteTopics({ topics: [this.topic], timeout: 30_000 });
    for (let i = 0; ; i++) {
      try {
        await this.admin.createTopics({
          waitForLeaders: true,
          topics: [{ topic: this.topic, numPartitions: PARTITIONS, replicationFactor: 1 }],
        });
        if ((await this.admin.fetchTopicOffsets(this.topic)).every((m) => Number(m.high) === 0)) break;
      } catch (e) {
        if (i > 100) throw e; // still marked for deletion: try again shortly
      }
      await sleep(200);
    }
    this.gen++;
    this.known = new Array<number>(PARTITIONS).fill(0);
    this.cursor = new Array<number>(PARTITIONS).fill(0);
    await this.reader.start();
    return `recreate the topic (generation ${this.gen})`;
  }

  /** A CLI killed with SIGKILL at a random point, the invariant checked, then run again to its end. */
  async interrupted(check: (label: string) => Promise<void>): Promise<string> {
    const which = this.pick(['emulator', 'replay', 'redrive'] as const);
    const killAt = 200 + this.int(3500);
    const env = { ...this.env, KAFKA_GROUP_ID: `${this.topic}-emu-g${this.gen}` };
    const args = {
      emulator: ['cli/local.ts', '--until-idle', '--no-template', '--idle-ms', '800'],
      replay: ['cli/dead-letters.ts', 'replay', '--all'],
      redrive: ['cli/redrive.ts', '--from', `kafka://${this.dest}`, '--group', this.redriveGroup],
    }[which];
    const first = await runCli(args, env, killAt);
    this.midKill = true;
    await check(`${which} killed after ${killAt} ms (${first.killed ? 'killed' : `exited ${first.code}`})`);
    this.midKill = false;
    const second = await runCli(args, env);
    assert.ok(
      second.code === 0 || (which === 'redrive' && second.code === 3),
      `${which} rerun exited ${second.code}:\n${second.output}`,
    );
    if (which === 'redrive') this.redriven();
    if (which === 'emulator') {
      // The emulator's group read the whole generation: every record of it was delivered.
      const highs = await this.sync();
      this.range(new Array<number>(PARTITIONS).fill(0), highs).forEach((r) => this.delivered(r));
      this.cursor = highs;
    }
    return `${which} CLI: killed at ${killAt} ms (${first.killed ? 'killed' : `exited ${first.code}`}), rerun exited ${second.code}`;
  }

  // ---- the invariant --------------------------------------------------------------------

  /**
   * A tombstone delivered later than `e`, of its key, at a higher offset of its partition; `maybe`:
   * or one a killed CLI may have applied before the model learnt of it.
   */
  private supersededBy(e: Entry, maybe = false): Entry | undefined {
    // A tombstone is superseded too: it is no record in the stores, but a forged one's dead letter
    // is moot once a later tombstone of the key was applied.
    if (e.keyB64 === null) return undefined;
    return this.all.find(
      (t) =>
        (t.applied || (maybe && t.kind === 'tomb')) &&
        t.keyB64 === e.keyB64 &&
        t.id.cluster === e.id.cluster &&
        t.id.coordinates.topic === e.id.coordinates.topic &&
        t.id.coordinates.partition === e.id.coordinates.partition &&
        t.id.coordinates.offset > e.id.coordinates.offset &&
        t.seq > e.seq,
    );
  }

  /** Identities (and as-new sources) re-sent by messages still on the topic, beyond what was delivered. */
  private async inFlight(): Promise<Set<string>> {
    const highs = await this.sync();
    const out = new Set<string>();
    for (const r of this.range(this.cursor, highs)) {
      const c = this.classify(r);
      if (c.copyOf) out.add(`${idKey(c.copyOf.id)}#${c.copyOf.fp}`);
      const of = r.headers.find((h) => 'dead-letter-of' in h)?.['dead-letter-of'];
      if (c.own && of) out.add(`new:${Buffer.from(of.map((b) => b & 0xff)).toString('utf8')}#${c.own.serial}`);
    }
    return out;
  }

  async problems(): Promise<string[]> {
    const out: string[] = [];
    const inFlight = await this.inFlight();
    const pg = await this.sb.query<PgRow>(`select * from ${this.sb.tables.records}`);
    const docs = (await this.docs.find({}).toArray()).filter((d) => !String(d._id).startsWith('blocker-'));
    const dls = await this.sb.query<DlRow>(`select * from ${this.sb.tables.deadLetters}`);
    const pgBy = new Map(pg.map((r) => [idKey(rowId(r)), r]));
    const docBy = new Map<string, Document>();
    for (const d of docs) {
      const at = parseStoredId(String(d._id));
      if (!at) out.push(`a document with an _id no identity spells: ${String(d._id)}`);
      else docBy.set(idKey(at), d);
    }
    const dlBy = new Map<string, DlRow[]>();
    for (const d of dls) dlBy.set(idKey(rowId(d)), [...(dlBy.get(idKey(rowId(d))) ?? []), d]);

    // Everything stored is a produced record's own identity and content, not superseded.
    const explained = (k: string, fp: string | null | undefined, where: string): Entry | undefined => {
      const e = (this.entries.get(k) ?? []).find((x) => x.fp === fp);
      if (!e) {
        const forgedClaim = this.all.find((x) => x.forged?.includes(k.split('/').slice(1).join('/')));
        out.push(
          `${where} ${k} (fingerprint ${fp}) is no produced record${forgedClaim ? ` (a forged header of ${forgedClaim.serial} claims it)` : ''}`,
        );
      } else if (e.kind !== 'valid') out.push(`${where} ${k} holds record ${e.serial}, a ${e.kind}`);
      else {
        const t = this.supersededBy(e);
        if (t)
          out.push(
            `${where} ${k} holds record ${e.serial}, superseded by tombstone ${t.serial} (offset ${t.id.coordinates.offset})`,
          );
      }
      return e;
    };
    for (const [k, r] of pgBy) {
      const e = explained(k, r.fingerprint, 'row');
      if (e) this.sameContent(out, `row ${k}`, e, pgContent(r));
    }
    for (const [k, d] of docBy) {
      const e = explained(k, (d.kafka as { fp?: string } | undefined)?.fp, 'document');
      if (e) this.sameContent(out, `document ${k}`, e, docContent(d));
    }
    // A dead letter is keyed by the fingerprint its record failed under: the original one, or
    // (a fixed dead letter whose replay failed again) the fixed one.
    const dlOf = (e: Entry, d: DlRow) => d.fingerprint === e.origFp || d.fingerprint === e.fp;
    for (const d of dls) {
      const k = idKey(rowId(d));
      const e = (this.entries.get(k) ?? []).find((x) => dlOf(x, d));
      if (!e) out.push(`dead letter ${k} (fingerprint ${d.fingerprint}, ${d.error_kind}) is no produced record`);
      else if (
        d.value_base64 !== e.valueB64 ||
        d.kafka_key_base64 !== e.keyB64 ||
        Number(d.timestamp_ms) !== e.timestamp
      )
        out.push(`dead letter ${k} of record ${e.serial} does not hold its exact bytes`);
    }

    // Every delivered record is stored in both, or in exactly one live dead letter, or superseded.
    for (const e of this.all) {
      if (e.state !== 'due') continue;
      // A tombstone is in no store; a forged one is a dead letter until a replay of it is applied.
      if (e.kind === 'tomb' && (e.forged === undefined || e.applied)) continue;
      const k = idKey(e.id);
      const inPg = pgBy.get(k)?.fingerprint === e.fp;
      const inMongo = (docBy.get(k)?.kafka as { fp?: string } | undefined)?.fp === e.fp;
      const rows = (dlBy.get(k) ?? []).filter((d) => dlOf(e, d));
      const pending = rows.filter((d) => d.replayed_at === null && d.superseded_by === null && d.stored_at === null);
      const live = pending.length > 0;
      const dl = pending[0] ?? rows[0];
      const what = `record ${e.serial} (${e.kind}${e.forged !== undefined ? ', forged header' : ''}) at ${k}`;
      const t = this.supersededBy(e);
      if (t) {
        if (live)
          out.push(
            `${what}: superseded by tombstone ${t.serial}, yet its dead letter is pending (a replay brings it back)`,
          );
        continue;
      }
      // A CLI killed half-way may have applied a tombstone the model has not delivered yet.
      if (this.midKill && this.supersededBy(e, true)) continue;
      if (inPg && inMongo) {
        if (live) out.push(`${what}: stored in both stores and also a pending dead letter (${dl.error_kind})`);
        continue;
      }
      const marked = rows.find((d) => d.stored_at !== null);
      if (marked)
        out.push(`${what}: its dead letter (${marked.error_kind}) is marked stored, but it is not in both stores`);
      if (inPg || inMongo) {
        out.push(
          `${what}: in ${inPg ? 'Postgres' : 'MongoDB'} only${dl ? ` (dead letter ${dl.error_kind}, replayed ${dl.replayed_at !== null})` : ''}`,
        );
        continue;
      }
      if (!dl) {
        out.push(`${what}: lost (in no store, in no dead letter)`);
        continue;
      }
      if (pending.length > 1) out.push(`${what}: ${pending.length} pending dead letters`);
      if (live) {
        // pending: fine
      } else if (dl.superseded_by !== null)
        out.push(`${what}: its dead letter is marked superseded by ${dl.superseded_by}, no tombstone supersedes it`);
      else if (
        dl.replayed_at !== null &&
        !inFlight.has(`${k}#${e.fp}`) &&
        !inFlight.has(`new:${formatCoordinates(e.id.coordinates)}#${e.serial}`)
      )
        out.push(
          `${what}: its dead letter (${dl.error_kind}) is marked replayed, but no replay of it is left to consume`,
        );
      // What the sink made of the record's content (a fixed one failed as it was before).
      if (
        live &&
        !e.fixed &&
        e.kind === 'valid' &&
        e.forged === undefined &&
        !['store', 'collision'].includes(dl.error_kind)
      )
        out.push(`${what}: a valid record dead-lettered as ${dl.error_kind}`);
      // A forged record replayed is its own record (signed by the replay): it may then fail for its content.
      if (
        live &&
        e.forged !== undefined &&
        e.kind === 'valid' &&
        !['forged', 'store', 'collision'].includes(dl.error_kind)
      )
        out.push(`${what}: forged, but dead-lettered as ${dl.error_kind}`);
    }
    return out;
  }

  private sameContent(out: string[], where: string, e: Entry, got: Content): void {
    // Re-senders' headers are outside the fingerprint: an as-new replay stored as it came keeps
    // them, its redriven copy does not; both are that record.
    const own = (hs: unknown) => plain((hs as StoredHeader[]).filter((h) => !isResendHeader(h)));
    got = { ...got, headers: own(got.headers) };
    const want: Content = {
      key: e.keyB64,
      value: text(e.valueB64),
      headers: own(e.headers),
      timestamp: e.timestamp,
    };
    try {
      assert.deepEqual(got, want);
    } catch {
      out.push(`${where} of record ${e.serial} differs: ${JSON.stringify(got)} != ${JSON.stringify(want)}`);
    }
  }

  summary(): string {
    const by = new Map<string, number>();
    for (const e of this.all) {
      const k = `${e.state}${this.supersededBy(e) ? '/superseded' : ''}`;
      by.set(k, (by.get(k) ?? 0) + 1);
    }
    return [...by].map(([k, n]) => `${k} ${n}`).join(', ');
  }
}

interface Classified {
  copyOf?: Entry;
  own?: Entry;
  fp: string;
}

interface Content {
  key: string | null;
  value: string | null;
  headers: unknown;
  timestamp: number;
}

const rowId = (r: { cluster: string; topic: string; partition: number; offset: string }): Identity => ({
  cluster: r.cluster,
  coordinates: { topic: r.topic, partition: r.partition, offset: Number(r.offset) },
});

/** A row's content: its key, the value's text (raw, or rebuilt from its columns), headers, time. */
function pgContent(r: PgRow): Content {
  const source: Record<string, unknown> = {};
  for (const c of quoteType.columns) if (c.field) source[c.field] = r[c.name];
  return {
    key: keyBase64Of(r.kafka_key, r.kafka_key_base64),
    value: r.raw_value ?? rebuildText(FIELDS, source, r.extra),
    headers: plain(r.headers),
    timestamp: r.kafka_timestamp.getTime(),
  };
}

function docContent(d: Document): Content {
  const k = d.kafka as { key?: string | null; keyBase64?: string; headers?: unknown; timestamp: Date };
  return {
    key: keyBase64Of(k.key, k.keyBase64),
    value: typeof d.raw === 'string' ? d.raw : rebuildText(FIELDS, d, d.extra as Record<string, unknown> | undefined),
    headers: plain(expandHeaders(k.headers)),
    timestamp: k.timestamp.getTime(),
  };
}

/** One seed: random steps, the invariant after each. */
async function runSeed(seed: number): Promise<string> {
  const life = new Life(seed);
  const fail = (after: string, problems: string[]) => {
    assert.fail(
      [
        `lifecycle seed ${seed}: the invariant fails after "${after}"`,
        'steps:',
        ...life.steps.map((s, i) => `  ${i + 1}. ${s}`),
        'problems:',
        ...problems.map((p) => `  - ${p}`),
        `replay with LIFECYCLE_SEED=${seed} node --import tsx --test test/integration/lifecycle.test.ts`,
      ].join('\n'),
    );
  };
  const check = async (label: string) => {
    // A record the model cannot explain fails the check too, with the steps that led to it.
    const p = await life.problems().catch((e: unknown) => [String(e)]);
    if (p.length > 0) fail(label, p);
  };
  await life.open();
  try {
    const kinds: [number, string][] = [
      [3, 'produce'],
      [2.5, 'sink'],
      [0.7, 'partial'],
      [1, 'backfill'],
      [0.7, 'block'],
      [0.5, 'unblock'],
      [1, 'fail'],
      [1, 'redrive'],
      [1, 'replay'],
      [0.7, 'fix-replay'],
      [0.5, 'replay-id'],
      [0.5, 'replay-as-new'],
      [0.4, 'recreate'],
      [0.6, 'cli'],
    ];
    const total = kinds.reduce((a, [w]) => a + w, 0);
    let clis = 0;
    const ran = new Map<string, number>();
    for (let i = 0; i < STEPS; i++) {
      let roll = life.rnd() * total;
      let kind = kinds[kinds.length - 1][1];
      for (const [w, k] of kinds) {
        if ((roll -= w) < 0) {
          kind = k;
          break;
        }
      }
      // One interrupted CLI per seed in the default run: each costs seconds of process start.
      if (kind === 'cli' && clis++ >= 1 && !process.env.LIFECYCLE_SEED) kind = 'sink';
      const table: Record<string, () => Promise<string>> = {
        produce: () => life.produce(2 + life.int(6)),
        sink: () => life.sink(),
        partial: () => life.partial(),
        backfill: () => life.sink(true),
        block: () => life.block(),
        unblock: () => life.unblock(),
        fail: () => life.fail(),
        redrive: () => life.redrive(),
        replay: () => life.replay('all'),
        'fix-replay': () => life.fixAndReplay(),
        'replay-id': () => life.replay('id'),
        'replay-as-new': () => life.replay('as-new'),
        recreate: () => life.recreate(),
        cli: () => life.interrupted(check),
      };
      ran.set(kind, (ran.get(kind) ?? 0) + 1);
      const step = await table[kind]();
      life.steps.push(step);
      await check(step);
    }
    // Drain: whatever is in flight reaches the sink; the invariant holds at rest too.
    await life.unblock();
    life.steps.push(await life.redrive());
    life.steps.push(await life.sink());
    life.steps.push(await life.replay('all'));
    life.steps.push(await life.sink());
    await check('drain');
    return `records ${life.summary()}; steps ${[...ran].map(([k, n]) => `${k} ${n}`).join(', ')}`;
  } finally {
    await life.close();
  }
}

describe('randomized lifecycle: replays, redrives, re-created topics, refusals, tombstones, renames, kills', () => {
  for (const seed of SEEDS) {
    test(`seed ${seed}`, { timeout: 120_000 }, async (t) => {
      const summary = await runSeed(seed);
      t.diagnostic(`seed ${seed}: ${summary}`);
    });
  }
});
