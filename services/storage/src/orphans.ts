import type { Logger, Store } from '@fileshare/shared';
import type { BlobStore } from './blob/blob-store.js';
import { expiryItem } from './keys.js';

/**
 * Orphan guards: bytes that no record points at yet carry an item `blob:<key>` in the expiry
 * index, due `orphanGrace` seconds after the first byte. A record adopting the bytes removes the
 * guard in the same round trip as its own write; a crashed upload's guard comes due and the
 * expirer deletes its bytes (unless a record took them: see Expirer).
 */
export class Orphans {
  constructor(
    private readonly store: Store,
    private readonly blobs: BlobStore,
    private readonly log: Logger,
    /** Seconds. */
    private readonly graceSeconds: number,
  ) {}

  guard(key: string): Promise<void> {
    return this.store.schedule(expiryItem.format('blob', key), Date.now() + this.graceSeconds * 1000);
  }

  /** The guard is not needed any more: a record points at the bytes now, or the bytes are gone. */
  clear(key: string): Promise<void> {
    return this.store.unschedule(expiryItem.format('blob', key));
  }

  /** Bytes nobody will record: delete them and their guard. Never rejects: a failure is logged and the guard deletes them later. */
  async discard(key: string): Promise<void> {
    try {
      await this.blobs.delete(key);
      await this.clear(key);
    } catch (err) {
      this.log.error({ err, key }, 'could not discard blob; the orphan guard will');
    }
  }
}
