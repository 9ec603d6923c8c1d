/**
 * A SQLite file (better-sqlite3, WAL) whose writes are group-committed and acknowledged only
 * once on disk. Used by the all-in-one record store and by the fs blob store for small blobs.
 *
 * Group commit: every write queued during one turn of the event loop, or during one WAL fsync,
 * runs in one transaction, and the next fsync makes it durable. A write resolves only after its
 * transaction is committed and the WAL holding it is fsynced.
 *
 * SQLite runs with synchronous=NORMAL, so it does not fsync the WAL itself on commit (that would
 * block the event loop once per commit); this class fsyncs the WAL on the libuv thread pool
 * before resolving, which gives synchronous=FULL's durability. Checkpoints still sync. Reads on
 * the same connection may see a commit a few hundred microseconds before it is on disk; no
 * acknowledgement depends on that, since a later write's fsync covers every earlier commit.
 *
 * Checkpoints (copying the WAL into the database file, then fsyncing it) run on a worker
 * thread with its own connection (`Checkpointer`), never in a commit: SQLite's automatic
 * checkpoint ran inside every ~1000th commit, on the event loop (commits and their checkpoints
 * were a fifth of the all-in-one process's samples on 4 KiB uploads; with the automatic
 * checkpoint off, 2,830-3,040 -> 3,720-3,990 uploads/s, measured).
 */
import { closeSync, fsync, mkdirSync, openSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';

interface QueuedWrite {
  op: () => unknown;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

/** A checkpoint is asked for at most this often while writes go on; none while idle. */
const CHECKPOINT_EVERY_MS = 200;
/**
 * The WAL size past which commits pause briefly so that it can start over (DurableSqlite.heard).
 * The file is kept at that size: frames then overwrite blocks the file has, and a WAL fsync
 * has no new blocks to record. A WAL that kept growing into new blocks (256 MiB, cut back to 64 MiB at each
 * start) had the kernel zero each new page (6 % of an all-in-one process's samples on 4 KiB
 * uploads), and an fsync that must also record new blocks costs more (six frames then fsync, ext4
 * here: median 341-351 µs growing, 246-247 µs overwriting; p99 620-952 vs 412-416 µs). Upload p99
 * at saturation 119-169 -> 43-70 ms with this bound, uploads/s unchanged (alternating builds).
 */
const WAL_MAX_BYTES = 32 * 1024 * 1024;
/** Commits pause only for a checkpoint left with at most this much to copy (or a WAL four times too big). */
const HOLD_LEFT_BYTES = 4 * 1024 * 1024;
/** The longest commits wait for that checkpoint. */
const HOLD_MAX_MS = 1000;

/**
 * The worker: one connection per database file it is asked about, a PASSIVE checkpoint on each
 * request (it never blocks the writer; one that finds another checkpoint running just skips),
 * answered with the WAL's frames and how many of them are in the database file now (-1: skipped).
 */
const CHECKPOINTER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const dbs = new Map();
parentPort.on('message', ({ op, path }) => {
  let db = dbs.get(path);
  if (op === 'close') {
    db?.close();
    dbs.delete(path);
    return parentPort.postMessage({ closed: path });
  }
  try {
    if (!db) {
      db = new Database(path);
      db.pragma('busy_timeout = 0');
      dbs.set(path, db);
    }
    const [r] = db.pragma('wal_checkpoint(PASSIVE)');
    parentPort.postMessage({ path, log: r.log, checkpointed: r.checkpointed });
  } catch {
    // busy (another checkpoint, or a writer of another process): the next request retries
    parentPort.postMessage({ path, log: -1, checkpointed: -1 });
  }
});
`;

/**
 * One worker thread per process checkpoints every DurableSqlite file of it (one isolate, not one
 * per file: each costs memory). Started with the first file opened, stopped with the last closed.
 */
class Checkpointer {
  private static current?: Checkpointer;
  private readonly worker: Worker;
  /** One fallback per open DurableSqlite: run should the worker fail. */
  private readonly users = new Set<() => void>();
  /** Who hears how each file's checkpoints went. */
  private readonly listeners = new Map<string, (r: CheckpointResult) => void>();
  private stopped = false;

  private constructor() {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.worker = new Worker(CHECKPOINTER, { eval: true, workerData: { driver }, resourceLimits: { maxOldGenerationSizeMb: 16 } });
    this.worker.unref();
    this.worker.on('error', () => {
      for (const fallback of this.users) fallback();
    });
    this.worker.once('exit', () => {
      this.stopped = true;
      if (Checkpointer.current === this) Checkpointer.current = undefined;
    });
    this.worker.on('message', (m: Partial<CheckpointResult> & { path?: string }) => {
      if (m.path !== undefined && m.log !== undefined) this.listeners.get(m.path)?.(m as CheckpointResult);
    });
  }

  /** A file to checkpoint from now on; `fallback` runs should the worker fail, `heard` after each checkpoint. */
  static register(path: string, fallback: () => void, heard: (r: CheckpointResult) => void): Checkpointer {
    const c = (Checkpointer.current ??= new Checkpointer());
    c.users.add(fallback);
    c.listeners.set(path, heard);
    return c;
  }

  checkpoint(path: string): void {
    if (!this.stopped) this.worker.postMessage({ op: 'checkpoint', path });
  }

  /** The worker closes its connection to `path` (reopened if another user asks); the last user stops it. */
  async release(path: string, fallback: () => void): Promise<void> {
    this.users.delete(fallback);
    this.listeners.delete(path);
    if (this.stopped) return;
    await new Promise<void>((resolve) => {
      const onMessage = (m: { closed?: string }) => {
        if (m.closed !== path) return;
        this.worker.off('message', onMessage);
        resolve();
      };
      this.worker.on('message', onMessage);
      this.worker.once('exit', () => resolve());
      this.worker.postMessage({ op: 'close', path });
    });
    if (this.users.size === 0 && !this.stopped) {
      if (Checkpointer.current === this) Checkpointer.current = undefined;
      await this.worker.terminate();
    }
  }
}

/** A checkpoint's outcome: frames in the WAL, and how many of them are in the database file (-1, -1: it did not run). */
interface CheckpointResult {
  log: number;
  checkpointed: number;
}

/** Sleeps the thread (the opening steps are synchronous, like the constructor they run in). */
const pause = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
const OPEN_BUSY_MS = 10_000;

/**
 * Runs the opening steps again while another connection holds the lock they need. Replicas on one
 * data directory (two storage processes sharing blobs.db) start at the same moment: both read the
 * file, then both want to write it (into WAL mode, the schema), and SQLite answers one of them
 * SQLITE_BUSY at once instead of waiting (waiting could deadlock) — "database is locked", the
 * replica died at start. Every step is idempotent.
 */
function whileBusy(steps: () => void): void {
  const until = Date.now() + OPEN_BUSY_MS;
  for (;;) {
    try {
      return steps();
    } catch (err) {
      if (!String((err as { code?: unknown }).code).startsWith('SQLITE_BUSY') || Date.now() > until) throw err;
      pause(5 + Math.random() * 20);
    }
  }
}

export class DurableSqlite {
  readonly db: Database.Database;
  private queue: QueuedWrite[] = [];
  /** Committed, waiting for the WAL fsync that makes them durable. */
  private unsynced: ((err?: Error) => void)[] = [];
  private syncing = false;
  /** The WAL file, fsynced off the event loop; undefined for ':memory:'. */
  private readonly walFd?: number;
  private readonly checkpointer?: Checkpointer;
  private checkpointTimer?: NodeJS.Timeout;
  /** Back to SQLite's own checkpoints in commits, should the worker fail (slower, never unbounded). */
  private readonly fallback = () => this.db.open && this.db.pragma('wal_autocheckpoint = 1000');
  /** Bytes of one WAL frame (a page and its header). */
  private readonly frameBytes: number;
  private readonly walMaxBytes: number;
  /** Commits wait while a checkpoint catches up with the WAL (see `heard`); the timer bounds the wait. */
  private holding?: NodeJS.Timeout;
  /** Frames the last checkpoint reported copied. */
  private lastCheckpointed = -1;

  /**
   * Opens (creating) the file and runs `schema` (idempotent DDL). `onRollback` runs when a group's
   * transaction fails as a whole (its writes' effects are gone: whatever mirrored them must go too).
   * `walMaxBytes`: the WAL size past which commits pause for a checkpoint to catch up (`heard`).
   */
  constructor(
    private readonly path: string,
    schema: string,
    private readonly onRollback?: () => void,
    opts: { walMaxBytes?: number } = {},
  ) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    const db = new Database(path);
    db.pragma('busy_timeout = 5000');
    whileBusy(() => {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.exec(schema);
    });
    this.db = db;
    this.walMaxBytes = opts.walMaxBytes ?? WAL_MAX_BYTES;
    this.frameBytes = (db.pragma('page_size', { simple: true }) as number) + 24;
    // When the WAL starts over, SQLite cuts the file back to this (not below: see WAL_MAX_BYTES).
    db.pragma(`journal_size_limit = ${this.walMaxBytes}`);
    // SQLite keeps the WAL (same inode: it is reset, not deleted) while the database is open.
    if (path !== ':memory:') {
      this.walFd = openSync(`${path}-wal`, 'a');
      db.pragma('wal_autocheckpoint = 0');
      this.checkpointer = Checkpointer.register(path, this.fallback, (r) => this.heard(r));
    }
  }

  /**
   * Runs `op` (synchronous statements) in the next group commit; resolves once durable. While a
   * WAL fsync runs, writes wait for it to end and then commit together: committing them at once
   * would not make them durable any sooner (they need the next fsync either way), and each commit
   * costs its WAL frames, locks and page writes on the event loop (16 % of the all-in-one
   * process's samples on token round trips when every loop turn committed).
   */
  write<T>(op: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.queue.push({ op, resolve: (v) => resolve(v as T), reject }) === 1 && !this.syncing) setImmediate(() => this.commit());
    });
  }

  /**
   * A checkpoint ended. The WAL starts over only when a write begins while every frame of it is
   * in the database file — which, with commits every few milliseconds and the checkpoint on
   * another thread, never happens under sustained load: the WAL grew by ~130 MB/s of 4 KiB
   * uploads (2.3 GB after 30 s), and a crash's recovery reads it all. So once it is past
   * `walMaxBytes` (32 MiB), checkpoints follow each other at once, and when one finds little left
   * to copy (HOLD_LEFT_BYTES, or the WAL is four times too big) commits wait for one more: it
   * copies the rest, and the next commit starts the WAL over (the file cut back to the bound).
   * The wait is one short checkpoint, bounded by HOLD_MAX_MS.
   */
  private heard(r: CheckpointResult): void {
    if (this.holding) return this.release();
    const wal = r.log * this.frameBytes;
    if (r.log < 0 || wal <= this.walMaxBytes || !this.db.open) return;
    const left = (r.log - r.checkpointed) * this.frameBytes;
    const hold = left <= Math.min(this.walMaxBytes / 16, HOLD_LEFT_BYTES) || wal > 4 * this.walMaxBytes;
    if (hold) this.holding = setTimeout(() => this.release(), HOLD_MAX_MS);
    if (hold || r.checkpointed !== this.lastCheckpointed) this.checkpointer!.checkpoint(this.path);
    // No progress (another process's reader holds old frames): not back to back, at the usual pace.
    else this.checkpointSoon();
    this.lastCheckpointed = r.checkpointed;
  }

  /** Commits go on (those that waited, as one group). */
  private release(): void {
    clearTimeout(this.holding);
    this.holding = undefined;
    if (this.queue.length && !this.syncing && this.db.open) this.commit();
  }

  /** One failing write does not undo the others of its batch. */
  private commit(): void {
    if (this.holding) return; // `release` commits what waited
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
      this.onRollback?.();
      for (const w of batch) w.reject(err);
      return;
    }
    this.checkpointSoon();
    this.whenDurable((err) => batch.forEach((w, i) => (err ? w.reject(err) : results[i].ok ? w.resolve(results[i].value) : w.reject(results[i].err))));
  }

  /** Commits happened: a checkpoint at most CHECKPOINT_EVERY_MS from now (none while idle). */
  private checkpointSoon(): void {
    if (!this.checkpointer || this.checkpointTimer) return;
    this.checkpointTimer = setTimeout(() => {
      this.checkpointTimer = undefined;
      this.checkpointer!.checkpoint(this.path);
    }, CHECKPOINT_EVERY_MS).unref();
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
      // The writes that waited for this fsync commit now, as one group (then their own fsync).
      if (this.queue.length && this.db.open) this.commit();
      else if (this.unsynced.length) this.syncWal(fd);
    });
  }

  /** Commits what is queued, waits until it is durable, closes. Safe to call twice. */
  async close(): Promise<void> {
    if (!this.db.open) return;
    clearTimeout(this.holding);
    this.holding = undefined;
    this.commit();
    await new Promise<void>((resolve) => this.whenDurable(() => resolve()));
    if (!this.db.open) return;
    clearTimeout(this.checkpointTimer);
    await this.checkpointer?.release(this.path, this.fallback);
    if (!this.db.open) return;
    if (this.walFd !== undefined) closeSync(this.walFd);
    this.db.close();
  }
}
