import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  AppError,
  newId,
  type AppendOptions,
  type AppendWriter,
  type BlobWriter,
  type ExpireResult,
  type Logger,
  type OwnedId,
  type ResumableCreate,
  type ResumableRecord,
  type ResumableState,
  type Store,
  type StoredBlob,
  type UploadRecord,
} from '@fileshare/shared';
import type { BlobStore } from './blob/blob-store.js';
import { keys } from './keys.js';
import type { Orphans } from './orphans.js';
import { ChunkWriter } from './chunk-writer.js';
import type { UploadRecords } from './uploads.js';

/** A chunk list longer than this is refused: the record carries it whole on every write. */
export const MAX_CHUNKS = 10_000;
/**
 * The writer's lock lease, renewed every third of it while a chunk streams in: a replica that dies
 * mid-chunk leaves the upload writable again within this (tus-js-client's default retries span 9 s).
 */
const LOCK_LEASE_MS = 10_000;

/**
 * Resumable uploads (tus, IETF resumable uploads) over any blob store: every chunk a client sends
 * is stored as a blob of its own (durable as any blob: fsync + rename, or a completed S3 upload)
 * and appended to the record's chunk list in the same round trip that clears its orphan guard.
 * When the last byte is in, the chunks are streamed, in order, into one new blob (which computes
 * the sha256 as any upload does), the upload is recorded under the resumable upload's id, and the
 * chunks are deleted.
 *
 * Why chunk blobs and not appends to one file: it is the same on the fs and S3 backends, any
 * storage replica can take the next chunk, and a chunk that fails leaves nothing to trim. The cost
 * is one copy of the bytes at completion (measured in the closing note of the resumable-uploads
 * issue); an fs-only append capability can remove it later.
 *
 * One writer per upload at a time, across replicas: a store claim with a lease, renewed while the
 * chunk streams; a second writer gets `upload_locked` (409) at once.
 *
 * Completion is idempotent and re-run by whoever next reads a record whose chunks are complete
 * (a crash between "offset = length" and "recorded"): it assembles a fresh blob unless the upload
 * record exists already, then drops the chunks and the record.
 */
export class ResumableUploads {
  constructor(
    private readonly store: Store,
    private readonly blobs: BlobStore,
    private readonly orphans: Orphans,
    private readonly uploads: UploadRecords,
    private readonly log: Logger,
    private readonly opts: {
      /** Seconds an incomplete upload lives. */
      incompleteTtl: number;
      /** Seconds an expired one answers 410 rather than 404. */
      tombstoneTtl: number;
    },
  ) {}

  async create(b: ResumableCreate): Promise<ResumableState> {
    const now = Date.now();
    const rec: ResumableRecord = { ...b, id: newId(), offset: 0, chunks: [], createdAt: now, expiresAt: now + this.opts.incompleteTtl * 1000 };
    const key = keys.resumable(rec.id);
    await Promise.all([this.store.schedule(key, rec.expiresAt), this.store.set(key, rec)]);
    if (rec.length === 0) return this.locked(rec.id, () => this.finish(rec));
    return stateOf(rec);
  }

  /** The owner's view: 404 unknown or someone else's, 410 expired; a finished upload is `complete`. */
  async get(b: OwnedId): Promise<ResumableState> {
    const rec = await this.store.get<ResumableRecord>(keys.resumable(b.id));
    if (!rec) {
      const up = await this.uploads.get(b.id);
      if (up.owner !== b.owner) throw new AppError('upload_not_found');
      return { id: up.id, offset: up.size, length: up.size, expiresAt: up.expiresAt, complete: true };
    }
    if (rec.owner !== b.owner) throw new AppError('upload_not_found');
    if (rec.length !== null && rec.offset === rec.length) return this.locked(rec.id, () => this.finishById(rec.id));
    if (Date.now() >= rec.expiresAt) throw new AppError('upload_expired');
    return stateOf(rec);
  }

  /** Termination: the owner drops an incomplete upload and its chunks. False when there is none. */
  async delete(b: OwnedId): Promise<boolean> {
    const rec = await this.store.get<ResumableRecord>(keys.resumable(b.id));
    if (!rec || rec.owner !== b.owner) return false;
    await this.locked(b.id, () => this.drop(rec));
    return true;
  }

  /** A chunk: see AppendWriter. Checks (lock, owner, offset, length) run before a byte is taken. */
  append(o: AppendOptions): AppendWriter {
    return new ChunkWriter(this, o);
  }

  /** The expirer's part: an incomplete upload past its time loses its chunks; a finished one is completed. */
  async expire(id: string, now: number): Promise<ExpireResult> {
    const kind = 'resumable';
    return this.locker(id, true, async () => {
      const rec = await this.store.get<ResumableRecord>(keys.resumable(id));
      if (!rec) return { deleted: false, kind, bytes: 0 };
      if (rec.length !== null && rec.offset === rec.length) {
        await this.finish(rec);
        return { deleted: false, kind, bytes: 0 };
      }
      if (rec.expiresAt > now) {
        await this.store.schedule(keys.resumable(id), rec.expiresAt);
        return { deleted: false, kind, bytes: 0, keep: true };
      }
      await this.store.set(keys.tomb('upload', id), { owner: rec.owner, expiredAt: now }, this.opts.tombstoneTtl * 1000);
      return { deleted: true, kind, bytes: await this.drop(rec) };
    });
  }

  // ---- used by ChunkWriter, under the upload's lock

  /** The record a chunk may be appended to, checked against what the client says. */
  async checkAppend(o: AppendOptions): Promise<{ rec: ResumableRecord; maxBytes: number }> {
    const rec = await this.store.get<ResumableRecord>(keys.resumable(o.id));
    if (!rec) {
      const up = await this.store.get<UploadRecord>(keys.upload(o.id));
      // Complete already: the client's offset is behind (HEAD shows offset = length).
      if (up && up.owner === o.owner) throw new AppError('offset_mismatch');
      await this.uploads.get(o.id); // 410 for an expired one, else 404
      throw new AppError('upload_not_found');
    }
    if (rec.owner !== o.owner) throw new AppError('upload_not_found');
    if (Date.now() >= rec.expiresAt) throw new AppError('upload_expired');
    if (o.offset !== rec.offset) throw new AppError('offset_mismatch');
    if (o.length !== undefined) {
      if (rec.length !== null && rec.length !== o.length) throw new AppError('invalid_upload_length', 'upload length differs from the one declared');
      if (o.length < rec.offset || o.length > o.maxBytes) throw new AppError(o.length > o.maxBytes ? 'file_too_large' : 'invalid_upload_length');
      rec.length = o.length;
    }
    if (rec.chunks.length >= MAX_CHUNKS) throw new AppError('too_many_chunks');
    return { rec, maxBytes: (rec.length ?? o.maxBytes) - rec.offset };
  }

  /**
   * A durable chunk joins the record (its guard cleared in the same round trip); the last one
   * completes it. An empty chunk is discarded: the offset stays (a length may still be declared).
   * Every chunk moves the incomplete upload's expiry to `incompleteTtl` from now: an upload that
   * makes progress is not cut off, one that stalls goes.
   */
  async appended(rec: ResumableRecord, chunk: StoredBlob): Promise<ResumableState> {
    const expiresAt = Date.now() + this.opts.incompleteTtl * 1000;
    const next: ResumableRecord = chunk.size > 0 ? { ...rec, offset: rec.offset + chunk.size, chunks: [...rec.chunks, chunk.key], expiresAt } : { ...rec, expiresAt };
    const key = keys.resumable(rec.id);
    await Promise.all([this.store.schedule(key, expiresAt), this.store.set(key, next), chunk.size > 0 ? this.orphans.clear(chunk.key) : this.orphans.discard(chunk.key)]);
    return next.length !== null && next.offset === next.length ? this.finish(next) : stateOf(next);
  }

  /** A chunk refused after it was stored (checksum mismatch): its bytes and guard go now. */
  discard(key: string): Promise<void> {
    return this.orphans.discard(key);
  }

  /** A new blob (a chunk, or the assembled upload) under an orphan guard until a record takes it. */
  newBlob(maxBytes: number): BlobWriter {
    const key = newId();
    return this.blobs.create(key, { maxBytes, onStart: () => this.orphans.guard(key) });
  }

  /** Runs `fn` holding the upload's lock; `upload_locked` when another holds it (`wait`: until it is free). */
  async locker<T>(id: string, wait: boolean, fn: () => Promise<T>): Promise<T> {
    const key = keys.resumableLock(id);
    const until = Date.now() + 10_000;
    while (!(await this.store.claim(key, LOCK_LEASE_MS))) {
      if (!wait) throw new AppError('upload_locked');
      if (Date.now() > until) throw new AppError('unavailable');
      await new Promise((r) => setTimeout(r, 20 + Math.random() * 30));
    }
    // Renewed while held (a chunk may stream for minutes); a replica that dies stops renewing.
    const timer = setInterval(() => void this.store.renew(key, LOCK_LEASE_MS).catch(() => undefined), LOCK_LEASE_MS / 3);
    try {
      return await fn();
    } finally {
      clearInterval(timer);
      await this.store.release(key).catch(() => undefined);
    }
  }

  private locked<T>(id: string, fn: () => Promise<T>): Promise<T> {
    return this.locker(id, true, fn);
  }

  private async finishById(id: string): Promise<ResumableState> {
    const rec = await this.store.get<ResumableRecord>(keys.resumable(id));
    if (rec) return this.finish(rec);
    const up = await this.uploads.get(id);
    return { id, offset: up.size, length: up.size, expiresAt: up.expiresAt, complete: true };
  }

  /** Idempotent: the chunks become one blob and an upload record of the same id, then go. */
  private async finish(rec: ResumableRecord): Promise<ResumableState> {
    let up = await this.store.get<UploadRecord>(keys.upload(rec.id));
    if (!up) {
      const writer = this.newBlob(rec.offset);
      const blobs = this.blobs;
      await pipeline(
        Readable.from(
          (async function* () {
            for (const c of rec.chunks) yield* await blobs.open(c);
          })(),
        ),
        writer,
      );
      const blob = await writer.done;
      up = await this.uploads.record({ owner: rec.owner, name: rec.name, contentType: rec.contentType, ttl: rec.ttl }, blob, rec.id);
    }
    await this.drop(rec);
    return { id: rec.id, offset: up.size, length: up.size, expiresAt: up.expiresAt, complete: true };
  }

  /** The chunks, then the record and its expiry entry. Returns bytes freed. */
  private async drop(rec: ResumableRecord): Promise<number> {
    let bytes = 0;
    for (const c of rec.chunks) bytes += await this.blobs.delete(c);
    await this.store.delete(keys.resumable(rec.id));
    await this.store.unschedule(keys.resumable(rec.id));
    if (bytes > 0) this.log.debug({ upload: rec.id, bytes }, 'resumable chunks deleted');
    return bytes;
  }
}

const stateOf = (r: ResumableRecord): ResumableState => ({ id: r.id, offset: r.offset, length: r.length, expiresAt: r.expiresAt, complete: false });
