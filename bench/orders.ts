/**
 * The bench's `orders` lane (issue 21): the example route of examples/orders/sink.yaml, a second
 * record type beside the quotes (an integer id, a number, a time, an enum, a nested object, an
 * array), with deterministic synthetic orders as Kafka would hand them over.
 */
import path from 'node:path';
import { PROJECT_ROOT } from '../lib/config';
import type { KafkaEventRecord } from '../lib/event/types';
import type { RecordType } from '../lib/records/record-type';
import { routeRecordType } from '../lib/routes/record-type';
import { toEventRecord } from '../tools/emulator/event';
import { prng } from '../tools/producer/synthetic';
import { loadSinkFile } from '../tools/routes/load';
import { compileValidators } from '../tools/routes/validators';

/** The example sink file whose `orders` route the lane writes. */
export const ORDERS_SINK_FILE = path.join(PROJECT_ROOT, 'examples', 'orders', 'sink.yaml');

/** The `orders` route's record type, compiled as in development. */
export function ordersType(): RecordType<unknown> {
  const plan = loadSinkFile(ORDERS_SINK_FILE).routes.find((r) => r.name === 'orders');
  if (!plan) throw new Error(`${ORDERS_SINK_FILE} has no route orders`);
  return routeRecordType(plan, compileValidators([plan]).orders) as RecordType<unknown>;
}

const STATUSES = ['placed', 'paid', 'shipped', 'cancelled'];

/** Order `i`: one to four lines, a customer, a time in 2026, sometimes a note. */
function order(i: number, rand: () => number): Record<string, unknown> {
  const lines = Array.from({ length: 1 + Math.floor(rand() * 4) }, (_, k) => ({
    sku: `SKU-${1000 + Math.floor(rand() * 9000)}`,
    quantity: 1 + Math.floor(rand() * 5),
    price: Math.round(rand() * 10_000) / 100,
    ...(k === 0 && rand() < 0.2 ? { gift: true } : {}),
  }));
  const total = Math.round(lines.reduce((t, l) => t + l.quantity * l.price, 0) * 100) / 100;
  return {
    id: i + 1,
    total,
    placedAt: new Date(Date.UTC(2026, 0, 1) + Math.floor(rand() * 3e10)).toISOString(),
    status: STATUSES[Math.floor(rand() * STATUSES.length)],
    customer: { name: `Customer ${Math.floor(rand() * 5000)}`, email: `c${i}@example.com` },
    lines,
    ...(rand() < 0.3 ? { note: 'leave at the door' } : {}),
  };
}

/** `n` synthetic orders on topic `orders`, keyed by id, spread over 3 partitions like the quotes. */
export function syntheticOrders(n: number, seed: number): KafkaEventRecord[] {
  const rand = prng(seed);
  return Array.from({ length: n }, (_, i) =>
    toEventRecord({
      topic: 'orders',
      partition: i % 3,
      offset: Math.floor(i / 3),
      timestamp: 1_700_000_000_000 + i,
      key: String(i + 1),
      value: JSON.stringify(order(i, rand)),
    }),
  );
}
