/** The example two-route sink file (examples/orders/sink.yaml): its routes, and orders to send to it. */
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { MongoClient } from 'mongodb';
import { parse, stringify } from 'yaml';
import type { Lane } from './lane';
import { PROJECT_ROOT } from '../../lib/config';
import type { Route } from '../../lib/routes/default';
import { routeRecordType } from '../../lib/routes/record-type';
import { loadSinkFile } from '../../tools/routes/load';
import { compileValidators } from '../../tools/routes/validators';

/** The example sink file: the quotes route and an `orders` route. */
export const ORDERS_SINK_FILE = path.join(PROJECT_ROOT, 'examples', 'orders', 'sink.yaml');

/** The routes of a sink file, as the function compiles them (lib/routes/default.ts does the same for its own). */
export function routesOf(file = ORDERS_SINK_FILE): Route[] {
  const { routes } = loadSinkFile(file);
  const validators = compileValidators(routes);
  return routes.map((plan) => ({ plan, type: routeRecordType(plan, validators[plan.name]) }));
}

/** The `i`-th order: valid against examples/orders/orders.schema.json, deterministic. */
export const order = (i: number, fields: Record<string, unknown> = {}): string =>
  JSON.stringify({
    id: 1000 + i,
    total: 12.5 + i,
    placedAt: `2026-12-04T18:${String(i % 60).padStart(2, '0')}:00Z`,
    status: i % 2 ? 'paid' : 'placed',
    customer: { name: `Customer ${i}`, email: `c${i}@example.test` },
    lines: [{ sku: `SKU-${i}`, quantity: 1 + (i % 3), price: 12.5 + i }],
    ...fields,
  });

interface ExampleRoute {
  topic: string;
  postgres: { table: string };
  mongo: { collection: string };
}

/**
 * The example sink file copied into `dir` with its schemas, its orders route on `name` (its topic,
 * table and collection), so a test's orders start empty; returns the copy's path.
 */
export function ordersSinkFileIn(dir: string, name: string): string {
  const example = path.dirname(ORDERS_SINK_FILE);
  const file = parse(readFileSync(ORDERS_SINK_FILE, 'utf8')) as { routes: Record<string, ExampleRoute> };
  for (const f of ['quotes.schema.json', 'orders.schema.json']) copyFileSync(path.join(example, f), path.join(dir, f));
  const o = file.routes.orders;
  file.routes.orders = { ...o, topic: name, postgres: { ...o.postgres, table: name }, mongo: { collection: name } };
  const out = path.join(dir, 'sink.yaml');
  writeFileSync(out, stringify({ routes: file.routes }));
  return out;
}

/** Removes what a test's orders route `name` made: its topic, table and collection (each if there). */
export async function dropOrders(l: Lane, name: string): Promise<void> {
  await l.admin.deleteTopics({ topics: [name] }).catch(() => undefined);
  await l.sb.query(`drop table if exists "${name}"`).catch(() => undefined);
  const mongo = await MongoClient.connect(l.sb.config.MONGO_URL);
  try {
    await mongo
      .db(l.sb.config.MONGO_DATABASE)
      .collection(name)
      .drop()
      .catch(() => undefined);
  } finally {
    await mongo.close();
  }
}
