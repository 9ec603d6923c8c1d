import type { DurableSqlite } from '@fileshare/shared/durable-sqlite';

/** blobs.db: one row per small blob. */
export class InlineBlobs {
  private readonly getStmt;
  private readonly putStmt;
  private readonly delStmt;

  constructor(private readonly file: DurableSqlite) {
    this.getStmt = file.db.prepare<[string], { data: Buffer }>('SELECT data FROM blobs WHERE key = ?');
    this.putStmt = file.db.prepare('INSERT INTO blobs (key, data) VALUES (?, ?)');
    this.delStmt = file.db.prepare<[string], { size: number }>('DELETE FROM blobs WHERE key = ? RETURNING length(data) AS size');
  }
  get(key: string): Buffer | undefined {
    return this.getStmt.get(key)?.data;
  }
  /** Resolves once durable. */
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
  close(): Promise<void> {
    return this.file.close();
  }
}
