import { AppError, type Store } from '@fileshare/shared';

/**
 * Mutual exclusion across every replica that shares the store, by key: a store claim with a
 * lease, so the lock of a replica that died lapses by itself.
 *
 * Contract: `run(key, fn)` calls `fn` only while holding the lock and releases it when `fn`
 * settles. Waiting polls the claim every 5–15 ms; a lock not acquired within `waitMs` fails with
 * `unavailable` (503) and `fn` never runs. `fn` must finish well within `leaseMs`: after that
 * another holder may enter. Not reentrant.
 */
export class Locker {
  constructor(
    private readonly store: Store,
    private readonly opts: { waitMs: number; leaseMs: number } = { waitMs: 10_000, leaseMs: 30_000 },
  ) {}

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const until = Date.now() + this.opts.waitMs;
    while (!(await this.store.claim(key, this.opts.leaseMs))) {
      if (Date.now() > until) throw new AppError('unavailable');
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 10));
    }
    try {
      return await fn();
    } finally {
      await this.store.release(key).catch(() => undefined);
    }
  }
}
