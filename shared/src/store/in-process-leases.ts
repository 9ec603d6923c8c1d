/**
 * Leases kept in memory by a store that is its file's only writer (the all-in-one process): a
 * lease guards work in flight in this process, and that work dies with it, so a lease written to
 * disk would protect nothing after a crash — it would only cost a durable write per delivery and
 * per lock (and, after a restart, 409s until it lapsed).
 * Same semantics as the store's claims while the process lives: one holder per key until released
 * or lapsed; renew extends a live one only. Lapsed entries are dropped from the oldest end as new
 * ones arrive (renewed ones move to the young end), so memory is bounded by the leases taken within
 * the longest lease time.
 */
export class InProcessLeases {
  /** key -> when it lapses (ms); insertion order is roughly lapse order. */
  private readonly until = new Map<string, number>();

  take(key: string, ttlMs: number): boolean {
    const now = Date.now();
    this.prune(now);
    const held = this.until.get(key);
    if (held !== undefined && held > now) return false;
    this.until.delete(key);
    this.until.set(key, now + ttlMs);
    return true;
  }

  /** True when `key` is one of these (live or lapsed): release and renew then go nowhere else. */
  has(key: string): boolean {
    return this.until.has(key);
  }

  held(key: string): boolean {
    return (this.until.get(key) ?? 0) > Date.now();
  }

  release(key: string): void {
    this.until.delete(key);
  }

  renew(key: string, ttlMs: number): boolean {
    const now = Date.now();
    const held = this.until.get(key);
    this.until.delete(key);
    if (held === undefined || held <= now) return false;
    this.until.set(key, now + ttlMs);
    return true;
  }

  private prune(now: number): void {
    for (const [key, at] of this.until) {
      if (at > now) return;
      this.until.delete(key);
    }
  }
}
