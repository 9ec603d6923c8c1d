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
    const { waitMs, leaseMs, renew } = this.opts;
    const until = Date.now() + waitMs;
    while (!(await this.store.lease(key, leaseMs))) {
      if (busy) throw busy;
      if (Date.now() > until) throw new AppError('unavailable');
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 10));
    }
    const timer = renew ? setInterval(() => void this.store.renew(key, leaseMs).catch(() => undefined), leaseMs / 3) : undefined;
    try {
      return await fn();
    } finally {
      clearInterval(timer);
      await this.store.release(key).catch(() => undefined);
    }
  }
}
