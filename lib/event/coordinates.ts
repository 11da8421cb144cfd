/**
 * Kafka coordinates: the identity of a record everywhere in this project, and the one place that
 * knows how they are spelled (record id, partition key, human form, per-partition ranges).
 */

import { createHash } from 'node:crypto';

/** Topic, partition and offset of one record. */
export interface Coordinates {
  topic: string;
  partition: number;
  offset: number;
}

/** The first and last offset seen in one partition, and how many records. */
export interface PartitionRange {
  first: number;
  last: number;
  count: number;
}

/** `"<topic>-<partition>"`: the key of a partition in AWS events and in our reports. */
export const partitionKey = (c: Pick<Coordinates, 'topic' | 'partition'>): string => `${c.topic}-${c.partition}`;

/** `"<topic>-<partition>-<offset>"`: the record's id (Mongo `_id`, in-event duplicate detection). */
export const recordId = (c: Coordinates): string => `${c.topic}-${c.partition}-${c.offset}`;

/** `topic/partition/offset`, as errors, logs and the dead-letter CLI print it. */
export const formatCoordinates = (c: Coordinates): string => `${c.topic}/${c.partition}/${c.offset}`;

/** Parses {@link formatCoordinates}'s form back; undefined when `s` is not of that form. */
export function parseCoordinates(s: string): Coordinates | undefined {
  const m = /^(.+)\/(\d+)\/(\d+)$/.exec(s);
  return m ? { topic: m[1], partition: Number(m[2]), offset: Number(m[3]) } : undefined;
}

/** `quotes-0@3..5, quotes-1@9..9`: what a set of partition ranges covers. */
export const formatRanges = (ranges: Readonly<Record<string, PartitionRange>>): string =>
  Object.entries(ranges)
    .map(([k, r]) => `${k}@${r.first}..${r.last}`)
    .join(', ');

/** Accumulates the offset range of each partition, in the manner of kafkajs's Batch first/last offset. */
export class PartitionRanges {
  private readonly ranges: Record<string, PartitionRange> = {};
  /** The range last added to: an event's records come partition by partition. */
  private last?: { topic: string; partition: number; range: PartitionRange };

  /** Counts one record. */
  add(c: Coordinates): void {
    const l = this.last;
    const r = l !== undefined && l.topic === c.topic && l.partition === c.partition ? l.range : this.rangeOf(c);
    if (c.offset < r.first) r.first = c.offset;
    if (c.offset > r.last) r.last = c.offset;
    r.count++;
  }

  private rangeOf(c: Coordinates): PartitionRange {
    const range = (this.ranges[partitionKey(c)] ??= { first: c.offset, last: c.offset, count: 0 });
    this.last = { topic: c.topic, partition: c.partition, range };
    return range;
  }

  /** Whether no record was added. */
  get empty(): boolean {
    return Object.keys(this.ranges).length === 0;
  }

  /** A copy of the ranges by partition key. */
  toJSON(): Record<string, PartitionRange> {
    return structuredClone(this.ranges);
  }

  /** The ranges of `coordinates`, as one value. */
  static of(coordinates: Iterable<Coordinates>): PartitionRanges {
    const r = new PartitionRanges();
    for (const c of coordinates) r.add(c);
    return r;
  }

  /** `quotes-0@3..5, quotes-1@9..9`. */
  toString(): string {
    return formatRanges(this.ranges);
  }
}

/**
 * The cluster a record came from, as a short stable key: part of its identity, so that offset 42
 * of `quotes-0` on an MSK cluster and on a self-managed one are two records. The key is the first
 * 60 bits of a SHA-256 of the cluster's name ({@link clusterName}), in base64url.
 */
export type ClusterKey = string;

/** The key of no cluster: records decoded without one (NO_CONTEXT: tests and tools that decode one record). */
export const NO_CLUSTER: ClusterKey = '';

/**
 * The cluster's name from an event: the MSK cluster ARN, or the self-managed bootstrap servers
 * normalised (lower case, sorted, without duplicates), so the same brokers listed in another order
 * are the same cluster.
 */
export function clusterName(event: { eventSourceArn?: string; bootstrapServers?: string }): string {
  if (event.eventSourceArn) return event.eventSourceArn;
  const servers = (event.bootstrapServers ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  return `kafka://${[...new Set(servers)].sort().join(',')}`;
}

/** The short key of a cluster name. */
export const clusterKey = (name: string): ClusterKey =>
  createHash('sha256').update(name).digest('base64url').slice(0, 10);

/**
 * The cluster key of an event's records. A configured cluster id (SINK_CLUSTER_ID: set per
 * deployment, and by the emulator from Kafka's own cluster id) wins, so that how the brokers are
 * named (`localhost` or `127.0.0.1`, one broker more in the list, the MSK or self-managed shape)
 * never changes an identity; else the MSK cluster ARN; else the broker list, normalised.
 */
export const eventClusterKey = (
  event: { eventSourceArn?: string; bootstrapServers?: string },
  clusterId?: string,
): ClusterKey => clusterKey(clusterId ? `kafka-cluster-id:${clusterId}` : clusterName(event));

/** A stored record's id (Mongo `_id`): `<cluster key>:<topic>-<partition>-<offset>`, or without a cluster key for {@link NO_CLUSTER}. */
export const storedId = (cluster: ClusterKey, c: Coordinates): string =>
  cluster === NO_CLUSTER ? recordId(c) : `${cluster}:${recordId(c)}`;

/**
 * Parses {@link storedId}'s form back: the cluster key ('' for the form without one) and the
 * coordinates; undefined for anything else. Topic names hold no `:`, cluster keys are base64url.
 */
export function parseStoredId(id: string): { cluster: ClusterKey; coordinates: Coordinates } | undefined {
  const colon = id.indexOf(':');
  const m = /^(.+)-(\d+)-(\d+)$/.exec(id.slice(colon + 1));
  if (!m) return undefined;
  const cluster = colon < 0 ? NO_CLUSTER : id.slice(0, colon);
  return { cluster, coordinates: { topic: m[1], partition: Number(m[2]), offset: Number(m[3]) } };
}

/** `<cluster key>/<topic>/<partition>/<offset>`: an identity as one string (map keys, messages). */
export const formatIdentity = (cluster: ClusterKey, c: Coordinates): string => `${cluster}/${formatCoordinates(c)}`;

/**
 * The header that gives a re-sent record the identity of the record it re-sends (dead-letter
 * replays, redrives): signed, see lib/event/identity.ts.
 */
export const IDENTITY_HEADER = 'quotes-sink-identity';

/** Kafka's rule for a topic name: 1 to 249 letters, digits, `.`, `_` or `-`. */
export const TOPIC_NAME = /^[A-Za-z0-9._-]{1,249}$/;
