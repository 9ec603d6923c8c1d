/**
 * The metadata and token store: records with a TTL (through keyv), plus the few atomic
 * primitives correctness needs. Two implementations, `SqliteStore` (all-in-one) and
 * `RedisStore` (distributed); `test/contracts/store.contract.ts` runs against both.
 *
 * Units: every `ttlMs`, `atMs`, `nowMs`, `leaseMs` is milliseconds. Every method rejects
 * with `AppError('unavailable')` when the backing store cannot be reached.
 */
export interface Store {
  /** A record set with `set`, or undefined when absent or past its TTL. */
  get<T>(key: string): Promise<T | undefined>;
  set(key: string, value: unknown, ttlMs?: number): Promise<void>;
  /** True when the key existed. */
  delete(key: string): Promise<boolean>;

  /**
   * Set-if-absent as one atomic operation: true for exactly one of any number of concurrent
   * callers on the same key (until it expires or is released). Claims live in their own key
   * space: `get` does not see them.
   */
  claim(key: string, ttlMs?: number): Promise<boolean>;
  /**
   * A claim that guards work in flight (a lock, a delivery): exactly `claim`, except that a store
   * which is its file's only writer (the all-in-one SQLite store) keeps it in memory — the work
   * it guards dies with that process, so a durable write would protect nothing. `release`,
   * `renew` and `claimed` take leases and claims alike; a key is used as one or the other, never both.
   */
  lease(key: string, ttlMs: number): Promise<boolean>;
  release(key: string): Promise<void>;
  /**
   * Extend a live claim's lease to `ttlMs` from now (a lock held through a long transfer); false
   * when it is not claimed any more (lapsed or released): the holder has lost it. Claims carry
   * no holder identity, so a holder renews well within its lease (a third of it), never after.
   */
  renew(key: string, ttlMs: number): Promise<boolean>;
  /** Whether `key` is claimed now (a HEAD on a used token asks this; it never claims). */
  claimed(key: string): Promise<boolean>;

  /** Unordered sets of ids (a session's files, a user's sessions). */
  addMember(set: string, member: string): Promise<void>;
  removeMember(set: string, member: string): Promise<void>;
  members(set: string): Promise<string[]>;
  deleteSet(set: string): Promise<void>;

  /** The expiry index: an item becomes due at `atMs` (re-scheduling replaces the time). */
  schedule(item: string, atMs: number): Promise<void>;
  unschedule(item: string): Promise<void>;
  /**
   * Atomically take up to `limit` items due at `nowMs`, earliest first, and push each one's due
   * time to `nowMs + leaseMs`, so that no other caller takes it before the lease ends. The caller
   * `unschedule`s an item once it is handled; if it crashes, the item comes due again.
   * Cost: O(items taken), never a scan of everything scheduled.
   */
  claimDue(nowMs: number, leaseMs: number, limit: number): Promise<string[]>;
  /** When `item` is due (ms), or undefined when not scheduled. */
  dueAt(item: string): Promise<number | undefined>;

  ping(): Promise<void>;
  close(): Promise<void>;
}
