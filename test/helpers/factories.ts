/** The test data every suite builds the same way: the recorded fixtures and quote values. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { buildEvent, toEventRecord, type SourceMessage } from '../../tools/emulator/event';

/** A recorded event from test/fixtures (`msk-event.json`, `self-managed-event.json`), parsed afresh each call. */
export const fixture = (name: string) => JSON.parse(readFileSync(path.join(__dirname, '..', 'fixtures', name), 'utf8'));

/** Quote `i` as a record value: `Quote <i>` by Homer Simpson, with any field replaced or added by `fields`. */
export const quote = (i: number, fields: Record<string, unknown> = {}): string =>
  JSON.stringify({ quote: `Quote ${i}`, character: 'Homer Simpson', ...fields });

/** A message at given coordinates, timestamped `1700000000000 + offset`, with key `k<offset>`. */
export const messageAt = (
  topic: string,
  partition: number,
  offset: number,
  value: SourceMessage['value'],
): SourceMessage => ({ topic, partition, offset, timestamp: 1_700_000_000_000 + offset, key: `k${offset}`, value });

/**
 * A self-managed event of `values` on topic `quotes`: round-robin over `partitions` from `firstOffset`,
 * record `i` timestamped `1700000000000 + i` with key `k<i>`, unless `more(i)` gives other fields (keys, headers).
 */
export const eventOf = (
  values: readonly (string | null)[],
  partitions = 3,
  firstOffset = 0,
  more: (i: number) => Partial<SourceMessage> = (i) => ({ key: `k${i}` }),
) =>
  buildEvent(
    'self-managed',
    '127.0.0.1:9092',
    values.map((value, i) =>
      toEventRecord({
        topic: 'quotes',
        partition: i % partitions,
        offset: firstOffset + Math.floor(i / partitions),
        timestamp: 1700000000000 + i,
        key: null,
        value,
        ...more(i),
      }),
    ),
  );
