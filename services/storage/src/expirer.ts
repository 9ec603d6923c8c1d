import { EVENTS, type Bus, type ExpireResult, type FileRecord, type Logger, type SessionRecord, type Store, type UploadRecord } from '@fileshare/shared';
import type { BlobStore } from './blob/blob-store.js';
import type { FileRecords } from './files.js';
import { expiryItem, keys, type ExpiryKind } from './keys.js';
import type { ResumableUploads } from './resumable.js';
import type { SessionRecords } from './sessions.js';

/**
 * Deletes due items of the expiry index, one per `storage.expire` command (the expiry service
 * claims items and sends them here). Expiry deletes bytes, then writes the tombstone, then
 * deletes the record, so a crash at any point leaves an item that a retry completes.
 */
export class Expirer {
  constructor(
    private readonly store: Store,
    private readonly blobs: BlobStore,
    private readonly sessions: SessionRecords,
    private readonly files: FileRecords,
    private readonly resumable: ResumableUploads,
    private readonly bus: Bus,
    private readonly log: Logger,
    /** Seconds an expired item answers 410 rather than 404. */
    private readonly tombstoneTtl: number,
  ) {}

  /**
   * Idempotent: an item already gone reports `deleted: false`. Never deletes an item that is not
   * due by its record (the index may run ahead on a host with a fast clock): that one is put back.
   */
  async expire(item: string): Promise<ExpireResult> {
    const parsed = expiryItem.parse(item);
    if (!parsed) {
      this.log.warn({ item }, 'unknown expiry item');
      return { deleted: false, kind: item.split(':')[0], bytes: 0 };
    }
    const { kind, id } = parsed;
    const now = Date.now();
    switch (kind) {
      case 'upload':
        return this.expireUpload(id, now);
      case 'session':
        return this.expireSession(id, now);
      case 'file':
        return this.files.locked(id, async () => {
          const rec = await this.store.get<FileRecord>(keys.file(id));
          if (!rec) return { deleted: false, kind, bytes: 0 };
          if (rec.expiresAt > now) return this.notDue(kind, id, rec.expiresAt);
          return { deleted: true, kind, bytes: await this.files.remove(rec) };
        });
      case 'blob':
        return this.expireOrphan(id);
      case 'resumable':
        return this.resumable.expire(id, now);
    }
  }

  private async expireUpload(id: string, now: number): Promise<ExpireResult> {
    const kind = 'upload';
    const rec = await this.store.get<UploadRecord>(keys.upload(id));
    if (rec && rec.expiresAt > now) return this.notDue(kind, id, rec.expiresAt);
    // Without a record, the item still covers the bytes of the same id (UploadRecords.record).
    const bytes = await this.blobs.delete(rec?.blob ?? id);
    if (bytes > 0) this.log.debug({ upload: id, blob: rec?.blob ?? id, bytes }, 'expired bytes deleted');
    if (!rec) return { deleted: false, kind, bytes };
    await this.store.set(keys.tomb('upload', id), { owner: rec.owner, expiredAt: now }, this.tombstoneTtl * 1000);
    await this.store.delete(keys.upload(id));
    this.bus.announce(EVENTS.uploadExpired, { uploadId: id, owner: rec.owner, size: rec.size, at: new Date(now).toISOString() });
    return { deleted: true, kind, bytes };
  }

  private async expireSession(id: string, now: number): Promise<ExpireResult> {
    const kind = 'session';
    const rec = await this.store.get<SessionRecord>(keys.session(id));
    if (!rec) return { deleted: false, kind, bytes: 0 };
    if (rec.expiresAt > now) return this.notDue(kind, id, rec.expiresAt);
    await this.store.set(keys.tomb('session', id), { owner: rec.owner, expiredAt: now }, this.tombstoneTtl * 1000);
    const bytes = await this.sessions.remove(rec);
    this.bus.announce(EVENTS.sessionExpired, { sessionId: id, owner: rec.owner, at: new Date(now).toISOString() });
    return { deleted: true, kind, bytes };
  }

  /** An orphan guard that came due: delete the bytes unless a record took them and crashed before removing the guard. */
  private async expireOrphan(key: string): Promise<ExpireResult> {
    const kind = 'blob';
    if (await this.store.get(keys.upload(key))) return { deleted: false, kind, bytes: 0 };
    const ref = await this.store.get<{ fileId: string }>(keys.blobRef(key));
    if (ref && (await this.store.get<FileRecord>(keys.file(ref.fileId)))?.blob === key) return { deleted: false, kind, bytes: 0 };
    return { deleted: true, kind, bytes: await this.blobs.delete(key) };
  }

  /** Due in the index but not by the record (clock skew between hosts): put it back. */
  private async notDue(kind: ExpiryKind, id: string, expiresAt: number): Promise<ExpireResult> {
    await this.store.schedule(expiryItem.format(kind, id), expiresAt);
    return { deleted: false, kind, bytes: 0, keep: true };
  }
}
