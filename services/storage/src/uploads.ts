import { AppError, EVENTS, type Bus, type OwnedId, type Store, type StoredBlob, type UploadMeta, type UploadRecord } from '@fileshare/shared';
import type { BlobStore } from './blob/blob-store.js';
import { keys } from './keys.js';
import type { Orphans } from './orphans.js';

/** Simple uploads' records: written once their bytes are durable, read by id, deleted by their owner. */
export class UploadRecords {
  constructor(
    private readonly store: Store,
    private readonly blobs: BlobStore,
    private readonly orphans: Orphans,
    private readonly bus: Bus,
  ) {}

  /** The record of stored bytes (`POST /uploads`, through the data plane's createUpload). */
  async record(meta: UploadMeta, blob: StoredBlob, id = blob.key): Promise<UploadRecord> {
    // Repr-Digest: bytes other than the client's are refused before a record exists (the caller discards them).
    if (meta.sha256 !== undefined && meta.sha256 !== blob.sha256) throw new AppError('digest_mismatch');
    const now = Date.now();
    // A simple upload takes the blob's key as its id: expiry can delete the bytes from the id
    // alone. A resumable one keeps its own id (its bytes were assembled under a new key).
    const rec: UploadRecord = {
      id,
      owner: meta.owner,
      name: meta.name,
      contentType: meta.contentType,
      size: blob.size,
      sha256: blob.sha256,
      blob: blob.key,
      ttl: meta.ttl,
      createdAt: now,
      expiresAt: now + meta.ttl * 1000,
    };
    if (meta.maxDownloads !== undefined) rec.maxDownloads = meta.maxDownloads;
    // One round trip: the three are issued together (the Redis client pipelines them; SQLite
    // commits them as one group) and the store applies them in the order they reach it. The
    // record's own expiry entry is issued first; from then on it covers the bytes too (an upload
    // item without a record deletes the blob of the same id), so nothing here may be lost by a
    // crash at any point.
    const key = keys.upload(rec.id);
    if (blob.pending) {
      // A small blob left to this record (all-in-one: the blob's row and the records share one
      // SQLite file): the row is queued first, in this same turn, so one group commit holds all
      // three — the upload is durable whole or not at all, under one fsync, and no guard was
      // ever needed (none was written). Should the row alone fail (a statement, not the commit),
      // the record must not stay behind pointing at nothing.
      const [row, ...records] = await Promise.allSettled([blob.pending(), this.store.schedule(key, rec.expiresAt), this.store.set(key, rec)]);
      if (row.status === 'rejected') {
        await Promise.allSettled([this.store.delete(key), this.store.unschedule(key)]);
        throw row.reason;
      }
      for (const r of records) if (r.status === 'rejected') throw r.reason;
    } else await Promise.all([this.store.schedule(key, rec.expiresAt), this.store.set(key, rec), this.orphans.clear(rec.blob)]);
    this.bus.announce(EVENTS.uploadStored, {
      uploadId: rec.id,
      owner: rec.owner,
      size: rec.size,
      sha256: rec.sha256,
      expiresAt: new Date(rec.expiresAt).toISOString(),
      at: new Date(now).toISOString(),
    });
    return rec;
  }

  /** No owner check: a download URL is the capability. 404 unknown, 410 expired. */
  async get(id: string): Promise<UploadRecord> {
    const rec = await this.store.get<UploadRecord>(keys.upload(id));
    if (!rec) {
      if (await this.store.get(keys.resumable(id))) throw new AppError('upload_incomplete');
      if (await this.store.get(keys.tomb('upload', id))) throw new AppError('upload_expired');
      throw new AppError('upload_not_found');
    }
    if (Date.now() >= rec.expiresAt) throw new AppError('upload_expired');
    return rec;
  }

  /** Bytes first, then the record and its expiry entry. Someone else's upload is a 404. */
  async delete(b: OwnedId): Promise<void> {
    const rec = await this.get(b.id);
    if (rec.owner !== b.owner) throw new AppError('upload_not_found');
    await this.blobs.delete(rec.blob);
    await this.store.delete(keys.upload(rec.id));
    await this.store.delete(keys.downloads(rec.id));
    await this.store.unschedule(keys.upload(rec.id));
    this.bus.announce(EVENTS.uploadDeleted, { uploadId: rec.id, owner: rec.owner, at: new Date().toISOString() });
  }
}
