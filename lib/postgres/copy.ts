/**
 * `COPY … FROM STDIN` of one prepared block of text lines, as a pg submittable: the COPY
 * sub-protocol is three messages, so the sink needs no stream library in its bundle.
 */
import type pg from 'pg';

/** The connection methods a copy-in uses (pg's `Connection`, not in its typings). */
interface CopyConnection {
  query(text: string): void;
  sendCopyFromChunk(chunk: Buffer): void;
  endCopyFrom(): void;
}

/** A COPY's outcome as pg reports it to a submittable's `callback`. */
type Done = (err: Error | null | undefined, rowCount?: number) => void;

/**
 * One `COPY … FROM STDIN` whose whole input is `data`. pg calls these handlers; an error ends it
 * (pg then drops the query before the server's ReadyForQuery), ReadyForQuery ends it otherwise.
 */
class CopyIn {
  /** Set by pg (`pool.query`'s release, or the read timeout's wrapper). */
  callback?: Done;
  private rowCount = 0;
  private done = false;

  constructor(
    readonly text: string,
    private readonly data: Buffer,
  ) {}

  /**
   * The statement, its data and the end of it in one go, without waiting for CopyInResponse: a
   * round trip less, and the data is on its way before the caller's next synchronous work. If the
   * statement fails before copying, the server ignores the copy messages that follow it.
   */
  submit(connection: CopyConnection): void {
    connection.query(this.text);
    connection.sendCopyFromChunk(this.data);
    connection.endCopyFrom();
  }

  handleCopyInResponse(): void {}

  handleCommandComplete(msg: { text?: string }): void {
    const n = /^COPY (\d+)$/.exec(msg.text ?? '');
    if (n) this.rowCount = Number(n[1]);
  }

  handleError(err: Error): void {
    this.finish(err);
  }

  handleReadyForQuery(): void {
    this.finish(null);
  }

  // Messages a COPY FROM never gets; pg may still call them on a confused connection.
  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}
  handleCopyData(): void {}

  private finish(err: Error | null): void {
    if (this.done) return;
    this.done = true;
    this.callback?.(err, this.rowCount);
  }
}

/**
 * Runs `sql` (a `COPY … FROM STDIN`) on a pooled connection with `data` as its whole input, and
 * resolves with the number of rows copied. COPY is all or nothing: on any error no row is kept.
 */
export function copyIn(pool: pg.Pool, sql: string, data: string): Promise<number> {
  const copy = new CopyIn(sql, Buffer.from(data, 'utf8'));
  // pool.query hands a submittable to a client, sets its callback and releases the client after it.
  const run = pool.query(copy as unknown as pg.QueryConfig) as unknown as Promise<number>;
  return run;
}
