import type { DurableSqlite } from '@fileshare/shared/durable-sqlite';

const SCHEMA = 'CREATE TABLE IF NOT EXISTS blobs (key TEXT PRIMARY KEY, data BLOB NOT NULL)';

/**
 * Small blobs, one row each: in blobs.db (a file of their own), or in a table of the record
 * store's own file (all-in-one), where a blob and the record pointing at it commit together.
 */
export class InlineBlobs {
  private readonly getStmt;
  private readonly putStmt;
  private readonly delStmt;

  /** `owned`: the file is closed with this; a shared one belongs to the record store. */
  constructor(
    private readonly file: DurableSqlite,
    private readonly owned: boolean,
  ) {
    file.db.exec(SCHEMA);
    this.getStmt = file.db.prepare<[string], { data: Buffer }>('SELECT data FROM blobs WHERE key = ?');
    this.putStmt = file.db.prepare('INSERT INTO blobs (key, data) VALUES (?, ?)');
    this.delStmt = file.db.prepare<[string], { size: number }>('DELETE FROM blobs WHERE key = ? RETURNING length(data) AS size');
  }

  /** A file of their own (blobs.db). */
  static async open(path: string): Promise<InlineBlobs> {
    // Loaded only when used: the driver is a native module.
    const { DurableSqlite } = await import('@fileshare/shared/durable-sqlite');
    return new InlineBlobs(new DurableSqlite(path, SCHEMA), true);
  }

  get(key: string): Buffer | undefined {
    return this.getStmt.get(key)?.data;
  }
  /** Queued in the file's next group commit (with whatever else is queued in this turn); resolves once durable. */
  put(key: string, data: Buffer): Promise<void> {
    return this.file.write(() => void this.putStmt.run(key, data));
  }
  /** Bytes freed, or undefined when the key has no row. */
  delete(key: string): Promise<number | undefined> {
    return this.file.write(() => this.delStmt.get(key)?.size);
  }
  ping(): void {
    this.file.db.prepare('SELECT 1').get();
  }
  async close(): Promise<void> {
    if (this.owned) await this.file.close();
  }
}
