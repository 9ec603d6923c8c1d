/**
 * SQLite store for the all-in-one mode: a DurableSqlite file (WAL, group commit, a write resolves
 * once on disk, so an acknowledged record survives power loss). Tables:
 *   kv(key, value, expires)   records in keyv's stored form (keyv-format.ts); expired rows are purged every minute
 *   claims(key, expires)      set-if-absent markers (INSERT .. ON CONFLICT .. WHERE expired)
 *   members(name, member)     unordered sets
 *   schedule(item, due)       the expiry index, indexed by due time
 * It is meant for one process: several processes on one file would work (SQLite locks) but
 * are not what the distributed mode uses — that is Redis. Only a sole writer (`soleWriter`, the
 * all-in-one process) keeps recent records in memory, and its leases (Store.lease) only there.
 */
import type Database from 'better-sqlite3';
import { BoundedMap } from '../bounded-map.js';
import { DurableSqlite } from './durable-sqlite.js';
import { InProcessLeases } from './in-process-leases.js';
import { guarded } from './keyv-records.js';
import { decodeRecord, encodeRecord } from './keyv-format.js';
import type { Store } from './store.js';

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires INTEGER);
  CREATE INDEX IF NOT EXISTS kv_expires ON kv (expires) WHERE expires IS NOT NULL;
  CREATE TABLE IF NOT EXISTS claims (key TEXT PRIMARY KEY, expires INTEGER);
  CREATE TABLE IF NOT EXISTS members (name TEXT NOT NULL, member TEXT NOT NULL, PRIMARY KEY (name, member)) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS schedule (item TEXT PRIMARY KEY, due INTEGER NOT NULL);
  CREATE INDEX IF NOT EXISTS schedule_due ON schedule (due);
`;

/** A kv row as stored: the record in keyv's form (keyv-format.ts) and its expiry (ms; null: none). */
interface Row {
  value: string;
  expires: number | null;
}

/** keyv's namespace, as it prefixed every key when the records went through it. */
const storedKey = (key: string) => (key.startsWith('fs:') ? key : `fs:${key}`);

/**
 * Records in one SQLite table, in the form keyv gave them (files written before still read the
 * same). With `recent`, rows read or written lately are also kept in memory and reads of them
 * skip SQLite: sound only when this connection is the file's only writer (the all-in-one
 * process), since every write goes through here. A row is put there when its write runs inside
 * the commit — what SQLite's own reads would see from then on — and the whole of it is dropped
 * when a commit fails. A point read cost a read transaction (two fcntl locks on the WAL index)
 * and a B-tree walk: a sixth of a token round trip's samples.
 */
class SqliteRecords {
  private readonly getStmt;
  private readonly setStmt;
  private readonly delStmt;

  constructor(
    db: Database.Database,
    private readonly write: <T>(op: () => T) => Promise<T>,
    private readonly recent?: BoundedMap<string, Row>,
  ) {
    this.getStmt = db.prepare<[string, number], Row>('SELECT value, expires FROM kv WHERE key = ? AND (expires IS NULL OR expires > ?)');
    this.setStmt = db.prepare('INSERT INTO kv (key, value, expires) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value, expires = excluded.expires');
    this.delStmt = db.prepare('DELETE FROM kv WHERE key = ?');
  }

  get<T>(key: string): T | undefined {
    const now = Date.now();
    const k = storedKey(key);
    let row = this.recent?.get(k);
    if (row && row.expires !== null && row.expires <= now) {
      this.recent!.delete(k);
      return undefined;
    }
    if (!row) {
      row = this.getStmt.get(k, now);
      if (!row) return undefined;
      this.recent?.set(k, row);
    }
    const record = decodeRecord<T>(row.value);
    // keyv's own check, on the expiry inside the record
    return record && !(typeof record.expires === 'number' && now > record.expires) ? record.value : undefined;
  }
  set(key: string, value: unknown, ttlMs?: number): Promise<void> {
    const k = storedKey(key);
    const expires = ttlMs ? Date.now() + ttlMs : undefined;
    const row: Row = { value: encodeRecord({ value, expires }), expires: expires ?? null };
    return this.write(() => {
      this.setStmt.run(k, row.value, row.expires);
      this.recent?.set(k, row);
    });
  }
  delete(key: string): Promise<boolean> {
    const k = storedKey(key);
    return this.write(() => {
      const changed = this.delStmt.run(k).changes > 0;
      this.recent?.delete(k);
      return changed;
    });
  }
}

export class SqliteStore implements Store {
  /** The file: another table whose rows must commit with the records may share it (all-in-one small blobs). */
  readonly file: DurableSqlite;
  private readonly db: Database.Database;
  private readonly records: SqliteRecords;
  /** Runs a write in the next group commit; resolves once it is durable. */
  private readonly write: <T>(op: () => T) => Promise<T>;
  private readonly stmts;
  private readonly claimDueTx;
  private readonly purgeTimer: NodeJS.Timeout;
  /** Only as the sole writer: leases live in memory (InProcessLeases). */
  private readonly leases?: InProcessLeases;

  /**
   * `soleWriter`: no other connection writes this file (the all-in-one process), so recently
   * read and written records may be answered from memory (up to `recentRows`).
   */
  constructor(path: string, opts: { soleWriter?: boolean; recentRows?: number } = {}) {
    const recent = opts.soleWriter ? new BoundedMap<string, Row>(opts.recentRows ?? 20_000) : undefined;
    const file = new DurableSqlite(path, SCHEMA, () => recent?.clear());
    const write = <T>(op: () => T): Promise<T> => file.write(op);
    const db = file.db;
    this.records = new SqliteRecords(db, write, recent);
    this.file = file;
    this.write = write;
    if (opts.soleWriter) this.leases = new InProcessLeases();
    this.db = db;
    this.stmts = {
      claim: db.prepare(
        'INSERT INTO claims (key, expires) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET expires = excluded.expires WHERE claims.expires IS NOT NULL AND claims.expires <= ?',
      ),
      release: db.prepare('DELETE FROM claims WHERE key = ?'),
      renew: db.prepare('UPDATE claims SET expires = ? WHERE key = ? AND expires IS NOT NULL AND expires > ?'),
      claimed: db.prepare('SELECT 1 FROM claims WHERE key = ? AND (expires IS NULL OR expires > ?)'),
      addMember: db.prepare('INSERT OR IGNORE INTO members (name, member) VALUES (?, ?)'),
      removeMember: db.prepare('DELETE FROM members WHERE name = ? AND member = ?'),
      members: db.prepare<[string], { member: string }>('SELECT member FROM members WHERE name = ?'),
      deleteSet: db.prepare('DELETE FROM members WHERE name = ?'),
      schedule: db.prepare('INSERT INTO schedule (item, due) VALUES (?, ?) ON CONFLICT(item) DO UPDATE SET due = excluded.due'),
      unschedule: db.prepare('DELETE FROM schedule WHERE item = ?'),
      due: db.prepare<[number, number], { item: string }>('SELECT item FROM schedule WHERE due <= ? ORDER BY due LIMIT ?'),
      dueAt: db.prepare<[string], { due: number }>('SELECT due FROM schedule WHERE item = ?'),
      purgeKv: db.prepare('DELETE FROM kv WHERE expires IS NOT NULL AND expires <= ?'),
      purgeClaims: db.prepare('DELETE FROM claims WHERE expires IS NOT NULL AND expires <= ?'),
    };
    this.claimDueTx = db.transaction((now: number, until: number, limit: number) => {
      const items = this.stmts.due.all(now, limit).map((r) => r.item);
      for (const item of items) this.stmts.schedule.run(item, until);
      return items;
    });
    this.purgeTimer = setInterval(() => this.purge(), 60_000).unref();
  }

  get<T>(key: string): Promise<T | undefined> {
    return guarded(() => this.records.get<T>(key));
  }
  set(key: string, value: unknown, ttlMs?: number): Promise<void> {
    return guarded(() => this.records.set(key, value, ttlMs));
  }
  delete(key: string): Promise<boolean> {
    return guarded(() => this.records.delete(key));
  }

  /** Drop rows past their TTL (reads already ignore them; this reclaims the space). */
  purge(): void {
    const now = Date.now();
    void this.write(() => {
      this.stmts.purgeKv.run(now);
      this.stmts.purgeClaims.run(now);
    }).catch(() => undefined);
  }

  claim(key: string, ttlMs?: number): Promise<boolean> {
    const now = Date.now();
    return guarded(() => this.write(() => this.stmts.claim.run(key, ttlMs ? now + ttlMs : null, now).changes === 1));
  }
  lease(key: string, ttlMs: number): Promise<boolean> {
    return this.leases ? Promise.resolve(this.leases.take(key, ttlMs)) : this.claim(key, ttlMs);
  }
  release(key: string): Promise<void> {
    if (this.leases?.has(key)) return Promise.resolve(this.leases.release(key));
    return guarded(() => this.write(() => void this.stmts.release.run(key)));
  }
  renew(key: string, ttlMs: number): Promise<boolean> {
    if (this.leases?.has(key)) return Promise.resolve(this.leases.renew(key, ttlMs));
    const now = Date.now();
    return guarded(() => this.write(() => this.stmts.renew.run(now + ttlMs, key, now).changes === 1));
  }
  claimed(key: string): Promise<boolean> {
    if (this.leases?.held(key)) return Promise.resolve(true);
    return guarded(() => this.stmts.claimed.get(key, Date.now()) !== undefined);
  }
  addMember(set: string, member: string): Promise<void> {
    return guarded(() => this.write(() => void this.stmts.addMember.run(set, member)));
  }
  removeMember(set: string, member: string): Promise<void> {
    return guarded(() => this.write(() => void this.stmts.removeMember.run(set, member)));
  }
  members(set: string): Promise<string[]> {
    return guarded(() => this.stmts.members.all(set).map((r) => r.member));
  }
  deleteSet(set: string): Promise<void> {
    return guarded(() => this.write(() => void this.stmts.deleteSet.run(set)));
  }
  schedule(item: string, atMs: number): Promise<void> {
    return guarded(() => this.write(() => void this.stmts.schedule.run(item, atMs)));
  }
  unschedule(item: string): Promise<void> {
    return guarded(() => this.write(() => void this.stmts.unschedule.run(item)));
  }
  claimDue(nowMs: number, leaseMs: number, limit: number): Promise<string[]> {
    return guarded(() => this.write(() => this.claimDueTx(nowMs, nowMs + leaseMs, limit)));
  }
  dueAt(item: string): Promise<number | undefined> {
    return guarded(() => this.stmts.dueAt.get(item)?.due);
  }
  async ping(): Promise<void> {
    await guarded(() => this.db.prepare('SELECT 1').get());
  }
  async close(): Promise<void> {
    clearInterval(this.purgeTimer);
    await this.file.close();
  }
}
