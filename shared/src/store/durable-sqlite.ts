/**
 * A SQLite file (better-sqlite3, WAL) whose writes are group-committed and acknowledged only
 * once on disk. Used by the all-in-one record store and by the fs blob store for small blobs.
 *
 * Group commit: every write queued during one turn of the event loop runs in one transaction;
 * every transaction committed while a WAL fsync is running shares the next one. A write resolves
 * only after its transaction is committed and the WAL holding it is fsynced.
 *
 * SQLite runs with synchronous=NORMAL, so it does not fsync the WAL itself on commit (that would
 * block the event loop once per commit); this class fsyncs the WAL on the libuv thread pool
 * before resolving, which gives synchronous=FULL's durability. Checkpoints still sync. Reads on
 * the same connection may see a commit a few hundred microseconds before it is on disk; no
 * acknowledgement depends on that, since a later write's fsync covers every earlier commit.
 */
import { closeSync, fsync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

interface QueuedWrite {
  op: () => unknown;
  resolve: (v: any) => void;
  reject: (e: unknown) => void;
}

export class DurableSqlite {
  readonly db: Database.Database;
  private queue: QueuedWrite[] = [];
  /** Committed, waiting for the WAL fsync that makes them durable. */
  private unsynced: ((err?: Error) => void)[] = [];
  private syncing = false;
  /** The WAL file, fsynced off the event loop; undefined for ':memory:'. */
  private readonly walFd?: number;

  /** Opens (creating) the file and runs `schema` (idempotent DDL). */
  constructor(path: string, schema: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 5000');
    db.exec(schema);
    this.db = db;
    // SQLite keeps the WAL (same inode: it is reset, not deleted) while the database is open.
    if (path !== ':memory:') this.walFd = openSync(`${path}-wal`, 'a');
  }

  /** Runs `op` (synchronous statements) in the next group commit; resolves once durable. */
  write<T>(op: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.queue.push({ op, resolve, reject }) === 1) setImmediate(() => this.commit());
    });
  }

  /** One failing write does not undo the others of its batch. */
  private commit(): void {
    const batch = this.queue;
    this.queue = [];
    if (!batch.length) return;
    const results: { ok: boolean; value?: unknown; err?: unknown }[] = [];
    try {
      this.db
        .transaction(() => {
          for (const w of batch) {
            try {
              results.push({ ok: true, value: w.op() });
            } catch (err) {
              results.push({ ok: false, err });
            }
          }
        })
        .immediate();
    } catch (err) {
      for (const w of batch) w.reject(err);
      return;
    }
    this.whenDurable((err) => batch.forEach((w, i) => (err ? w.reject(err) : results[i].ok ? w.resolve(results[i].value) : w.reject(results[i].err))));
  }

  /** Calls `done` once everything committed so far is on disk: one fsync for all waiting. */
  private whenDurable(done: (err?: Error) => void): void {
    if (this.walFd === undefined) return done();
    this.unsynced.push(done);
    if (!this.syncing) this.syncWal(this.walFd);
  }

  private syncWal(fd: number): void {
    const waiting = this.unsynced;
    this.unsynced = [];
    this.syncing = true;
    fsync(fd, (err) => {
      this.syncing = false;
      // Not durable: these writes fail (the caller answers 503) rather than being acknowledged.
      const failure = err ? new Error(`sqlite WAL fsync failed: ${err.message}`, { cause: err }) : undefined;
      for (const done of waiting) done(failure);
      if (this.unsynced.length) this.syncWal(fd);
    });
  }

  /** Commits what is queued, waits until it is durable, closes. Safe to call twice. */
  async close(): Promise<void> {
    if (!this.db.open) return;
    this.commit();
    await new Promise<void>((resolve) => this.whenDurable(() => resolve()));
    if (!this.db.open) return;
    if (this.walFd !== undefined) closeSync(this.walFd);
    this.db.close();
  }
}
