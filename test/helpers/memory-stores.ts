/** In-memory stores implementing the sink's ports: processBatch tests with no database. */
import { storedId } from '../../lib/event/coordinates';
import type { StoreName } from '../../lib/sink/port';
import type { DeadLetter, GoodRecord, Tombstone } from '../../lib/sink/model';
import type { DeadLetterStore, RecordStore, RecordWriteCount, Stores, WriteCount } from '../../lib/sink/port';

/** Records by id, with the chunk sizes it was written in. */
export class MemoryRecordStore<T> implements RecordStore<T> {
  readonly byId = new Map<string, GoodRecord<T>>();
  readonly chunkSizes: number[] = [];
  readonly deleteCalls: number[] = [];

  /** `refuse(record)` gives a reason to refuse a record for its content, as a server would. */
  constructor(
    readonly name: StoreName,
    private readonly refuse: (r: GoodRecord<T>) => string | undefined = () => undefined,
  ) {}

  async ready(): Promise<void> {}

  async write(records: readonly GoodRecord<T>[]): Promise<RecordWriteCount> {
    this.chunkSizes.push(records.length);
    const count: Required<RecordWriteCount> = { written: 0, alreadyPresent: 0, rejected: [] };
    records.forEach((r, index) => {
      const id = storedId(r.meta.cluster, r.meta.coordinates);
      const reason = this.refuse(r);
      if (reason) count.rejected.push({ index, reason });
      else if (this.byId.has(id)) count.alreadyPresent++;
      else {
        this.byId.set(id, r);
        count.written++;
      }
    });
    return count;
  }

  async deleteRecords(records: readonly GoodRecord<T>[]): Promise<number> {
    let n = 0;
    for (const r of records) if (this.byId.delete(storedId(r.meta.cluster, r.meta.coordinates))) n++;
    return n;
  }

  async deleteByKey(tombstones: readonly Tombstone[]): Promise<number> {
    this.deleteCalls.push(tombstones.length);
    let deleted = 0;
    for (const [id, r] of this.byId) {
      const c = r.meta.coordinates;
      const hit = tombstones.some(
        (t) =>
          t.meta.keyBase64 !== undefined &&
          t.meta.keyBase64 === r.meta.keyBase64 &&
          t.meta.coordinates.topic === c.topic &&
          t.meta.coordinates.partition === c.partition &&
          c.offset < t.meta.coordinates.offset,
      );
      if (hit && this.byId.delete(id)) deleted++;
    }
    return deleted;
  }

  async close(): Promise<void> {}
}

export class MemoryDeadLetterStore implements DeadLetterStore {
  readonly name = 'postgres' as const;
  readonly byId = new Map<string, DeadLetter>();

  async ready(): Promise<void> {}

  async write(deadLetters: readonly DeadLetter[]): Promise<WriteCount> {
    let written = 0;
    for (const d of deadLetters) {
      const id = storedId(d.meta.cluster, d.meta.coordinates);
      if (this.byId.has(id)) continue;
      this.byId.set(id, d);
      written++;
    }
    return { written, alreadyPresent: deadLetters.length - written };
  }

  async close(): Promise<void> {}
}

/** A Postgres-named and a Mongo-named in-memory store and an in-memory dead-letter store. */
export function memoryStores<T>(): Stores<T> & {
  postgres: MemoryRecordStore<T>;
  mongo: MemoryRecordStore<T>;
  dead: MemoryDeadLetterStore;
} {
  const postgres = new MemoryRecordStore<T>('postgres');
  const mongo = new MemoryRecordStore<T>('mongo');
  const dead = new MemoryDeadLetterStore();
  return { records: [postgres, mongo], deadLetters: dead, postgres, mongo, dead };
}
