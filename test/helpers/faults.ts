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
 * The stores, with the writes of the store named `store` failing while `on()` is true (a failed
 * chunk's copies in the other stores are then taken out by the sink: see {@link dyingAfter}).
 */
export function failWhile<T>(stores: Stores<T>, store: StoreName, on: () => boolean): Stores<T> {
  return {
    ...stores,
    records: stores.records.map((s) => (s.name === store ? failingWrites(s, () => on()) : s)),
  };
}

/**
 * What a function that dies after the other stores' writes and before `store`'s leaves behind,
 * while `on()` is true: `store` does not write, and nothing runs after the writes (no copy is
 * taken out).
 */
export function dyingAfter<T>(stores: Stores<T>, store: StoreName, on: () => boolean = () => true): Stores<T> {
  return {
    ...stores,
    records: stores.records.map((s) => {
      if (s.name === store) return failingWrites(s, () => on());
      const others = failingWrites(s, () => false);
      return {
        ...others,
        deleteRecords: (records) => (on() ? Promise.reject(new InjectedFault(store)) : others.deleteRecords(records)),
      };
    }),
  };
}
