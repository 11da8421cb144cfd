/**
 * Additive evolution of a records collection (lib/sink/evolve.ts says what may change): a route's
 * new text field is moved out of `extra` (or out of the raw text) of the documents stored before.
 *
 * A collection has no columns to compare, so the fields its documents were stored with are noted
 * in {@link META_COLLECTION}, one document per records collection, and updated only after the
 * move is done: a move killed halfway is taken up again, and one run again is a no-op.
 */
import type { Collection, Db, Document } from 'mongodb';
import type { RecordType } from '../records/record-type';
import { typeFields } from '../records/record-type';
import {
  fieldChanges,
  resplit,
  SchemaEvolutionError,
  type BackfillProgress,
  type EvolutionOptions,
} from '../sink/evolve';

/** The collection noting, per records collection, the text fields its documents are stored with. */
export const META_COLLECTION = 'quotes_sink_meta';

/** Documents a move reads at once. */
const BATCH = 1_000;

/**
 * Single-document updates per bulk write: FerretDB v1 (the native test server) stops answering
 * altogether after an update command of a few hundred of them.
 */
const UPDATES_PER_COMMAND = 50;

interface MetaDocument {
  _id: string;
  fields: string[];
  updatedAt: Date;
}

type Doc = Document & { _id: string };

/** Parts of a document the move sets or removes. */
function updateOf(names: readonly string[], doc: Doc, added: readonly string[]): Document | undefined {
  const { parts } = resplit(names, { fields: doc, extra: doc.extra as Document | null, raw: doc.raw as string | null });
  if (!added.some((f) => typeof parts.fields[f] === 'string')) return undefined;
  const set: Document = { ...parts.fields };
  const unset: Document = {};
  if (parts.extra) set.extra = parts.extra;
  else unset.extra = '';
  if (parts.raw !== undefined) set.raw = parts.raw;
  else unset.raw = '';
  // Single-document updates by `_id`: FerretDB v1 hangs on an update matching over 100 documents.
  return { updateOne: { filter: { _id: doc._id }, update: { $set: set, $unset: unset } } };
}

/** One records collection and the route it follows. */
export class MongoEvolution<T> {
  private readonly names: string[];
  private readonly route: string;
  private readonly meta: Collection<MetaDocument>;

  constructor(
    db: Db,
    private readonly records: Collection<Doc>,
    type: RecordType<T>,
    private readonly options: EvolutionOptions = {},
  ) {
    this.names = typeFields(type);
    this.route = type.route ?? type.name;
    this.meta = db.collection<MetaDocument>(META_COLLECTION);
  }

  /**
   * Checks the fields noted for the collection against the type's, refuses what cannot be
   * followed ({@link SchemaEvolutionError}), moves the new fields out of the stored documents, and
   * notes the type's fields. One lookup when nothing changed.
   */
  async evolve(): Promise<void> {
    const { added, problems } = await this.changes();
    if (problems.length > 0) throw new SchemaEvolutionError(this.route, 'mongo', problems);
    if (added.length === 0) return;
    await this.move(added);
    await this.meta.updateOne(
      { _id: this.records.collectionName },
      { $set: { fields: this.names, updatedAt: new Date() } },
      { upsert: true },
    );
  }

  /** The fields to move, and what cannot be followed; reads only. */
  private async changes(): Promise<{ added: string[]; problems: string[] }> {
    const noted = await this.meta.findOne({ _id: this.records.collectionName });
    const changes = fieldChanges(this.route, this.names, noted?.fields);
    // A collection emptied (dropped) since it was noted holds nothing to lose.
    if (changes.problems.length === 0 || (await this.records.countDocuments({}, { limit: 1 })) > 0) return changes;
    return fieldChanges(this.route, this.names, undefined);
  }

  /** What {@link evolve} would refuse, one line each, changing nothing (`npm run doctor -- --stores`). */
  async problems(): Promise<string[]> {
    return (await this.changes()).problems;
  }

  /** Moves `added` fields into place in every document that holds one in `extra` or its raw text. */
  private async move(added: readonly string[]): Promise<void> {
    const holds = [...added.map((f) => ({ [`extra.${f}`]: { $type: 'string' } })), { raw: { $type: 'string' } }];
    const progress: BackfillProgress = { table: this.records.collectionName, columns: added, scanned: 0, filled: 0 };
    const batch = this.options.batch ?? BATCH;
    for (let after: string | undefined; ;) {
      const filter = after === undefined ? { $or: holds } : { $and: [{ _id: { $gt: after } }, { $or: holds }] };
      const docs = await this.records.find(filter).sort({ _id: 1 }).limit(batch).toArray();
      if (docs.length === 0) break;
      const ops = docs.flatMap((d) => updateOf(this.names, d, added) ?? []);
      for (let i = 0; i < ops.length; i += UPDATES_PER_COMMAND)
        await this.records.bulkWrite(ops.slice(i, i + UPDATES_PER_COMMAND) as never, { ordered: false });
      progress.scanned += docs.length;
      progress.filled += ops.length;
      this.options.onProgress?.({ ...progress });
      after = docs[docs.length - 1]._id;
    }
  }
}
