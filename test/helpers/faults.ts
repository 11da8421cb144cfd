/**
 * Fault injection for tests, as store decorators: production code has no hooks for it. A
 * decorated store behaves like the real one except while its fault is switched on.
 */
import type { StoreName } from '../../lib/sink/port';
import type { RecordStore, Stores } from '../../lib/sink/port';

/** Thrown by a decorated store while its fault is on. */
export class InjectedFault extends Error {
  constructor(store: StoreName) {
    super(`fault injected into the ${store} write`);
    this.name = 'InjectedFault';
  }
}

/** `store`, except that `write` rejects (writing nothing) whenever `fail(call)` says so; calls count from 1. */
export function failingWrites<T>(store: RecordStore<T>, fail: (call: number) => boolean): RecordStore<T> {
  let calls = 0;
  return {
    name: store.name,
    ready: () => store.ready(),
    write: (records, ingestedAt) =>
      fail(++calls) ? Promise.reject(new InjectedFault(store.name)) : store.write(records, ingestedAt),
    deleteRecords: (records) => store.deleteRecords(records),
    deleteByKey: (tombstones) => store.deleteByKey(tombstones),
    close: () => store.close(),
  };
}

/**
 * The stores, with the writes of the store named `store` failing while `on()` is true: with
 * `mongo`, what a function that dies between the Postgres and the Mongo write leaves behind.
 */
export function failWhile<T>(stores: Stores<T>, store: StoreName, on: () => boolean): Stores<T> {
  return {
    ...stores,
    records: stores.records.map((s) => (s.name === store ? failingWrites(s, () => on()) : s)),
  };
}
