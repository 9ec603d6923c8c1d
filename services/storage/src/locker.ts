import { AppError, type Store } from '@fileshare/shared';

/**
 * Mutual exclusion across every replica that shares the store, by key: a store lease (Store.lease,
 * a claim that lapses), so the lock of a replica that died lapses by itself.
 *
 * Contract: `run(key, fn)` calls `fn` only while holding the lock and releases it when `fn`
 * settles. Waiting polls the claim every 5–15 ms; a lock not acquired within `waitMs` fails with
 * `unavailable` (503) and `fn` never runs; given `busy`, a held lock fails with it at once. `fn`
 * must finish well within `leaseMs` — unless `renew` is set: then the lease is renewed every third
 * of it while `fn` runs (a holder that dies stops renewing, and its lock lapses within `leaseMs`).
 * Not reentrant.
 */
export class Locker {
  constructor(
    private readonly store: Store,
    private readonly opts: { waitMs: number; leaseMs: number; renew?: boolean } = { waitMs: 10_000, leaseMs: 30_000 },
  ) {}

  async run<T>(key: string, fn: () => Promise<T>, busy?: AppError): Promise<T> {
    const { waitMs, leaseMs } = this.opts;
    const until = Date.now() + waitMs;
    while (!(await this.store.lease(key, leaseMs))) {
      if (busy) throw busy;
      if (Date.now() > until) throw new AppError('unavailable');
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 10));
    }
    return this.holding(key, fn);
  }

  /** How long a lock lasts unless renewed. */
  get leaseMs(): number {
    return this.opts.leaseMs;
  }

  /**
   * The lock for a holder in another process (a gateway appending on the shared volume): taken
   * without waiting (false: someone holds it); that holder keeps it by `renew` (a third of
   * `leaseMs`), then lets it go by `holding` or `release`, or it lapses.
   */
  take(key: string): Promise<boolean> {
    return this.store.lease(key, this.opts.leaseMs);
  }

  /** False when the lock is not held any more (lapsed or released). */
  renew(key: string): Promise<boolean> {
    return this.store.renew(key, this.opts.leaseMs);
  }

  async release(key: string): Promise<void> {
    await this.store.release(key);
  }

  /** Runs `fn` under a lock already held (renewed meanwhile when `renew` is set) and releases it when `fn` settles. */
  async holding<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const { leaseMs, renew } = this.opts;
    const timer = renew ? setInterval(() => void this.store.renew(key, leaseMs).catch(() => undefined), leaseMs / 3) : undefined;
    try {
      return await fn();
    } finally {
      clearInterval(timer);
      await this.store.release(key).catch(() => undefined);
    }
  }
}
