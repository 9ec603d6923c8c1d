import { AppError, DELIVERY_LEASE_MS, EVENTS, deliveredWhole, newId, type Bus, type DeliveryRef, type Sent, type Store, type UploadRecord } from '@fileshare/shared';
import { keys } from './keys.js';
import { Locker } from './locker.js';
import type { UploadRecords } from './uploads.js';

/** How long a request waits for a delivery in flight to end before it is 409. */
const WAIT_MS = 1_000;

interface Ledger {
  /** Complete deliveries so far. */
  done: number;
  /** Deliveries in flight: lease id → when it lapses. */
  inflight: Record<string, number>;
}

/**
 * Download limits of simple uploads (`maxDownloads`): a delivery counts when one response
 * delivered the whole file (a complete 200, or a 206 of every byte; a download's pieces cannot be
 * told apart from other clients' here, unlike a token's). So that N + k concurrent requests make
 * exactly N deliveries, each one takes a slot first — done + in flight may not exceed the limit —
 * under a lock in the store (any gateway, any storage replica); a slot's lease lapses if its
 * gateway dies. A request that finds every remaining slot in flight waits a moment, then hears
 * 409; once the limit is reached, 410 `download limit reached`.
 */
export class DownloadLimits {
  private readonly lock: Locker;

  constructor(
    private readonly store: Store,
    private readonly uploads: UploadRecords,
    private readonly bus: Bus,
  ) {
    this.lock = new Locker(store, { waitMs: 5_000, leaseMs: 5_000 });
  }

  async begin(id: string): Promise<DeliveryRef> {
    const until = Date.now() + WAIT_MS;
    for (;;) {
      const rec = await this.uploads.get(id);
      const lease = await this.ledger(rec, (l) => {
        const max = rec.maxDownloads ?? Infinity;
        if (l.done >= max) throw new AppError('download_limit_reached');
        if (l.done + Object.keys(l.inflight).length >= max) return undefined;
        const lease = newId();
        l.inflight[lease] = Date.now() + DELIVERY_LEASE_MS;
        return lease;
      });
      if (lease) return { id, lease };
      if (Date.now() > until) throw new AppError('download_in_use');
      await new Promise((r) => setTimeout(r, 20 + Math.random() * 20));
    }
  }

  async renew(b: DeliveryRef): Promise<void> {
    const rec = await this.uploads.get(b.id);
    await this.ledger(rec, (l) => {
      if (l.inflight[b.lease]) l.inflight[b.lease] = Date.now() + DELIVERY_LEASE_MS;
    });
  }

  /** The slot is given back; a response that delivered the whole file counts. */
  async finish(b: DeliveryRef & { sent: Sent; size: number }): Promise<{ downloads: number }> {
    const rec = await this.uploads.get(b.id);
    const whole = deliveredWhole(b.sent, b.size);
    const downloads = await this.ledger(rec, (l) => {
      delete l.inflight[b.lease];
      if (whole) l.done++;
      return l.done;
    });
    if (whole) this.bus.announce(EVENTS.uploadDownloaded, { uploadId: rec.id, owner: rec.owner, downloads, maxDownloads: rec.maxDownloads!, at: new Date().toISOString() });
    return { downloads };
  }

  /** Reads, changes and writes an upload's ledger under its lock; lapsed leases are dropped first. */
  private ledger<T>(rec: UploadRecord, change: (l: Ledger) => T): Promise<T> {
    return this.lock.run(keys.downloadsLock(rec.id), async () => {
      const key = keys.downloads(rec.id);
      const l = (await this.store.get<Ledger>(key)) ?? { done: 0, inflight: {} };
      const now = Date.now();
      for (const [lease, until] of Object.entries(l.inflight)) if (until <= now) delete l.inflight[lease];
      const result = change(l);
      // Kept as long as the upload (expiry deletes the record; this goes by itself).
      await this.store.set(key, l, Math.max(1000, rec.expiresAt - now + 60_000));
      return result;
    });
  }
}
