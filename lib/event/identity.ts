/**
 * The one identity model every path uses (write, dead letters, replay, redrive, consistency):
 *
 * - a record's **identity** is its cluster key and coordinates (lib/event/coordinates.ts);
 * - its **fingerprint** is a digest of what the producer sent: the original timestamp, the key's
 *   bytes, the value's bytes and the headers (less the re-senders' own). Two copies are "the same
 *   record" exactly when identity and fingerprint are equal;
 * - a **carried identity** is how the project's own re-senders (dead-letter replay, redrive) make a
 *   re-sent copy keep the identity and timestamp of the record it re-sends. It is signed with a key
 *   from configuration (SINK_IDENTITY_KEY): any producer can set a header, only a holder of the key
 *   can sign one, and the signature covers the fingerprint, so a copied header only ever vouches
 *   for the very bytes it was made for.
 */
import { createHmac, hash, timingSafeEqual } from 'node:crypto';
import type { StoredHeader } from './types';
import { QuotesSinkError } from '../errors';
import { IDENTITY_HEADER, type ClusterKey, type Coordinates } from './coordinates';

/** A record's content fingerprint: 22 base64url characters (132 bits of SHA-256). */
export type Fingerprint = string;

/**
 * Headers the re-senders add: left out of the fingerprint, and out of what is stored of a record
 * that carries a valid identity, so a re-sent copy is the record it re-sends.
 */
export const RESEND_HEADERS: ReadonlySet<string> = new Set([
  IDENTITY_HEADER,
  'dead-letter-of',
  'dead-letter-replay-id',
]);

/** What a fingerprint covers. */
export interface FingerprintInput {
  /** The original Kafka timestamp (epoch ms), not a re-send's. */
  timestamp: number;
  /** Base64 as received (AWS sends canonical base64); undefined or null without a key. */
  keyBase64?: string | null;
  /** Base64 as received; undefined or null for a tombstone. */
  valueBase64?: string | null;
  /** The headers as decoded (lib/event/decode.ts), in order. */
  headers: readonly StoredHeader[];
}

/**
 * One header's part of the digest, `|<length>:<name><length>:<value>` with each name and value
 * tagged `t` (text) or `b` (base64), length-prefixed so no two header lists read alike.
 */
function headerPart(h: StoredHeader): string {
  const name = h.nameBase64 ?? h.name;
  const value = h.value ?? h.valueBase64 ?? '';
  const nameTag = h.nameBase64 !== undefined ? 'b' : 't';
  const valueTag = h.value !== undefined ? 't' : 'b';
  return `|${name.length + 1}:${nameTag}${name}${value.length + 1}:${valueTag}${value}`;
}

/** Whether a header is one a re-sender adds. */
export const isResendHeader = (h: StoredHeader): boolean => h.nameBase64 === undefined && RESEND_HEADERS.has(h.name);

/**
 * Scratch space a fingerprint's input is written into, so the text hashed is never built as one
 * string (that string, some 600 bytes a record, was most of what a fingerprint allocated).
 */
const scratch = Buffer.allocUnsafe(64 * 1024);

/**
 * The fingerprint of a record: SHA-256 over its original timestamp, key, value and headers (less
 * {@link RESEND_HEADERS}): the UTF-8 of `<timestamp>|<key>|<value>` (`~` for none) followed by
 * each header's {@link headerPart}. Base64 is hashed as text: it is canonical, and decoding it
 * would cost more than the digest.
 */
export function fingerprint(r: FingerprintInput): Fingerprint {
  const head = `${r.timestamp}|${r.keyBase64 ?? '~'}|`;
  const value = r.valueBase64 ?? '~';
  let tail = '';
  const headers = r.headers;
  for (let i = 0; i < headers.length; i++) if (!isResendHeader(headers[i])) tail += headerPart(headers[i]);
  // Written part by part, the bytes are those of the three joined: each part meets the next at an
  // ASCII character, so no surrogate pair spans two.
  if ((head.length + value.length + tail.length) * 3 > scratch.length)
    return hash('sha256', head + value + tail, 'base64url').slice(0, 22);
  // The timestamp and base64 are ASCII, whose UTF-8 is its latin1: the faster encoder, same bytes.
  let n = scratch.write(head, 0, 'latin1');
  n += scratch.write(value, n, 'latin1');
  n += scratch.write(tail, n);
  return hash('sha256', scratch.subarray(0, n), 'base64url').slice(0, 22);
}

/** What a carried identity says: whose identity, its original timestamp, and the content it vouches for. */
export interface CarriedIdentity {
  cluster: ClusterKey;
  coordinates: Coordinates;
  timestamp: number;
  fingerprint: Fingerprint;
}

const VERSION = 'v1';
const MAC_CHARS = 32;
const FINGERPRINT = /^[A-Za-z0-9_-]{22}$/;
const CLUSTER = /^[A-Za-z0-9_-]*$/;
const TOPIC = /^[A-Za-z0-9._-]+$/;
const INTEGER = /^-?\d+$/;

/** The signed part of the header: `v1/<cluster>/<topic>/<partition>/<offset>/<timestamp>/<fingerprint>`. */
const body = (c: CarriedIdentity): string =>
  [
    VERSION,
    c.cluster,
    c.coordinates.topic,
    c.coordinates.partition,
    c.coordinates.offset,
    c.timestamp,
    c.fingerprint,
  ].join('/');

const mac = (key: string, text: string): string =>
  createHmac('sha256', key).update(text).digest('base64url').slice(0, MAC_CHARS);

/** Keys shorter than this are refused: an HMAC is only as good as its key. */
export const MIN_IDENTITY_KEY_LENGTH = 16;

/** The value of {@link IDENTITY_HEADER} for a re-send of `c`, signed with `key`. */
export function signIdentity(c: CarriedIdentity, key: string): string {
  const text = body(c);
  return `${text}/${mac(key, text)}`;
}

/** Why a carried identity is refused, or the identity it carries. */
export type VerifiedIdentity = { ok: true; identity: CarriedIdentity } | { ok: false; reason: string };

/** Parses the header's fields; undefined when it is not of the signed form. */
function parseSigned(value: string): { identity: CarriedIdentity; text: string; mac: string } | undefined {
  const p = value.split('/');
  if (p.length !== 8 || p[0] !== VERSION) return undefined;
  const [, cluster, topic, partition, offset, timestamp, fp, signature] = p;
  if (!CLUSTER.test(cluster) || !TOPIC.test(topic) || !FINGERPRINT.test(fp)) return undefined;
  if (!/^\d+$/.test(partition) || !/^\d+$/.test(offset) || !INTEGER.test(timestamp)) return undefined;
  const identity = {
    cluster,
    coordinates: { topic, partition: Number(partition), offset: Number(offset) },
    timestamp: Number(timestamp),
    fingerprint: fp,
  };
  return { identity, text: p.slice(0, 7).join('/'), mac: signature };
}

/**
 * Checks a carried identity: its form, its signature under `key`, and that it vouches for this
 * record's content (`content`: the fingerprint input less the timestamp, which the header gives).
 */
export function verifyIdentity(
  value: string,
  key: string | undefined,
  content: Omit<FingerprintInput, 'timestamp'>,
): VerifiedIdentity {
  const parsed = parseSigned(value);
  if (!parsed) return { ok: false, reason: `the ${IDENTITY_HEADER} header is not a signed identity` };
  if (!key)
    return { ok: false, reason: `the ${IDENTITY_HEADER} header cannot be checked: SINK_IDENTITY_KEY is not set` };
  const expected = Buffer.from(mac(key, parsed.text));
  const given = Buffer.from(parsed.mac);
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    return { ok: false, reason: `the ${IDENTITY_HEADER} header's signature does not match` };
  const actual = fingerprint({ ...content, timestamp: parsed.identity.timestamp });
  if (actual !== parsed.identity.fingerprint)
    return { ok: false, reason: `the ${IDENTITY_HEADER} header was signed for other content` };
  return { ok: true, identity: parsed.identity };
}

/** The key re-senders sign with (SINK_IDENTITY_KEY), or a one-line error saying how to set it. */
export function requireIdentityKey(config: { SINK_IDENTITY_KEY?: string }): string {
  if (!config.SINK_IDENTITY_KEY)
    throw new QuotesSinkError(
      'SINK_IDENTITY_KEY is not set: re-sent records must be signed with the key the sink checks (npm run stack -- up writes one to .stack/env)',
    );
  return config.SINK_IDENTITY_KEY;
}
