import type { Hash } from 'node:crypto';
import {
  AppError,
  CarriedHashes,
  newId,
  type AppendOptions,
  type AppendWriter,
  type BlobWriter,
  type ExpireResult,
  type Logger,
  type PlacedAppend,
  type ResumableConcat,
  type ResumableCreate,
  type ResumableRecord,
  type ResumableRef,
  type ResumableState,
  type Store,
  type UploadRecord,
} from '@fileshare/shared';
import { appends, sharesVolume, type GrowingBlobWriter, type BlobStore } from './blob/blob-store.js';
import { ChunkWriter } from './chunk-writer.js';
import type { FileRecords } from './files.js';
import { keys } from './keys.js';
import { Locker } from './locker.js';
import type { Orphans } from './orphans.js';
import { Completion } from './resumable-completion.js';
import type { UploadRecords } from './uploads.js';

/** A chunk list longer than this is refused: the record carries it whole on every write. */
export const MAX_CHUNKS = 10_000;

/**
 * Resumable uploads (tus, IETF resumable uploads) over any blob store. On a store that grows blobs
 * in place (fs, `Appendable`) a chunk is appended to the upload's one growing blob (cut back to the
 * acknowledged offset first, synced before the offset moves) and completion seals it with a rename:
 * no copy. Elsewhere (S3) every chunk is a blob of its own (a completed upload), appended to the
 * record's chunk list in the same round trip that clears its orphan guard, and completion copies
 * the chunks into one blob. Either way any storage replica can take the next chunk, and the record
 * in the store is the truth about the durable offset. Completion: resumable-completion.ts;
 * figures: docs/resumable-uploads.md.
 *
 * One writer per upload at a time, across replicas: a store claim with a lease, renewed while the
 * chunk streams; a second writer gets `upload_locked` (409) at once.
 */
export class ResumableUploads {
  private readonly completion: Completion;
  private readonly hashes = new CarriedHashes();
  /** Whether uploads grow one blob in place (fs) rather than keep a chunk list (S3). */
  private readonly grows: boolean;
  /**
   * One writer per upload: the lease is renewed while a chunk streams in (for minutes, maybe); a
   * replica that dies mid-chunk leaves the upload writable again within 10 s (tus-js-client's
   * default retries span 9 s).
   */
  private readonly lock: Locker;

  constructor(
    private readonly store: Store,
    private readonly blobs: BlobStore,
    private readonly orphans: Orphans,
    private readonly uploads: UploadRecords,
    private readonly files: FileRecords,
    log: Logger,
    private readonly opts: {
      /** Seconds an incomplete upload lives. */
      incompleteTtl: number;
      /** Seconds an expired one answers 410 rather than 404. */
      tombstoneTtl: number;
    },
  ) {
    this.lock = new Locker(store, { waitMs: 10_000, leaseMs: 10_000, renew: true });
    this.grows = appends(blobs);
    this.completion = new Completion(store, blobs, uploads, files, log, this.hashes, (n) => this.newBlob(n));
  }

  async create(b: ResumableCreate): Promise<ResumableState> {
    const now = Date.now();
    const rec: ResumableRecord = { ...b, id: newId(), offset: 0, chunks: [], createdAt: now, expiresAt: now + this.opts.incompleteTtl * 1000, ...this.growing() };
    if (!b.partial) delete rec.partial;
    if (!b.maxDownloads) delete rec.maxDownloads;
    await this.save(rec);
    return rec.length === 0 ? this.locked(rec.id, () => this.completed(rec)) : stateOf(rec);
  }

  /**
   * tus concatenation: the owner's complete partial uploads, in the order given, become one upload.
   * Under every part's lock (taken in id order: two finals over the same parts cannot deadlock) the
   * final record takes their chunk lists, then the parts' records go, then it completes.
   */
  concat(b: ResumableConcat): Promise<ResumableState> {
    if (b.parts.length === 0 || new Set(b.parts).size !== b.parts.length) throw new AppError('invalid_concat', 'upload-concat: final needs distinct partial uploads');
    const section = async () => {
      const parts = await Promise.all(b.parts.map((id) => this.store.get<ResumableRecord>(keys.resumable(id))));
      const now = Date.now();
      for (const p of parts) {
        if (!p || p.owner !== b.owner || !p.partial || p.sessionId) throw new AppError('invalid_concat', 'upload-concat: a partial upload is not found');
        if (now >= p.expiresAt) throw new AppError('upload_expired');
        if (p.offset !== p.length) throw new AppError('invalid_concat', 'upload-concat: a partial upload is incomplete');
      }
      const whole = parts as ResumableRecord[];
      const length = whole.reduce((n, p) => n + p.offset, 0);
      if (length > b.maxBytes) throw new AppError('file_too_large');
      // A part's growing blob is sealed into a chunk of the final upload (idempotent if this is re-run).
      const chunks: string[] = [];
      for (const p of whole) chunks.push(...(p.appendKey ? [(await this.completion.seal(p.appendKey, p.offset)).key] : p.chunks));
      if (chunks.length > MAX_CHUNKS) throw new AppError('too_many_chunks');
      const rec: ResumableRecord = {
        id: newId(),
        owner: b.owner,
        name: b.name,
        contentType: b.contentType,
        ttl: b.ttl,
        length,
        offset: length,
        chunks,
        createdAt: now,
        expiresAt: now + this.opts.incompleteTtl * 1000,
        ...(b.maxDownloads ? { maxDownloads: b.maxDownloads } : {}),
      };
      // The final record holds the chunks before the parts let go of them.
      await this.save(rec);
      for (const p of whole) await this.completion.forget(p.id);
      return this.locked(rec.id, () => this.completed(rec));
    };
    return [...b.parts].sort().reduceRight<() => Promise<ResumableState>>((inner, id) => () => this.locked(id, inner), section)();
  }

  /** The owner's view: 404 unknown or someone else's, 410 expired; a finished upload is `complete`. */
  async get(b: ResumableRef): Promise<ResumableState> {
    const rec = await this.store.get<ResumableRecord>(keys.resumable(b.id));
    if (!rec) return b.sessionId ? this.fileState(b, b.sessionId) : this.uploadState(b);
    if (rec.owner !== b.owner || rec.sessionId !== b.sessionId) throw new AppError(b.sessionId ? 'file_not_found' : 'upload_not_found');
    if (rec.length !== null && rec.offset === rec.length) return this.locked(rec.id, () => this.completedById(b));
    if (Date.now() >= rec.expiresAt) throw new AppError('upload_expired');
    return stateOf(rec);
  }

  /** Termination: the owner drops an incomplete upload and its chunks. False when there is none. */
  async delete(b: ResumableRef): Promise<boolean> {
    const rec = await this.store.get<ResumableRecord>(keys.resumable(b.id));
    if (!rec || rec.owner !== b.owner) return false;
    await this.locked(b.id, () => this.completion.drop(rec));
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
      if (rec.length !== null && rec.offset === rec.length && !rec.partial) {
        await this.completion.finish(rec).catch(() => undefined); // a session file deleted meanwhile: its chunks went along
        return { deleted: false, kind, bytes: 0 };
      }
      if (rec.expiresAt > now) {
        await this.store.schedule(keys.resumable(id), rec.expiresAt);
        return { deleted: false, kind, bytes: 0, keep: true };
      }
      if (!rec.sessionId) await this.store.set(keys.tomb('upload', id), { owner: rec.owner, expiredAt: now }, this.opts.tombstoneTtl * 1000);
      return { deleted: true, kind, bytes: await this.completion.drop(rec) };
    });
  }

  // ---- a chunk a gateway on the shared volume appends itself (SharedVolume); it holds the lock between these

  /**
   * The upload's lock is taken here for the gateway (`upload_locked` when someone holds it) and the
   * record checked as for any chunk; the gateway keeps the lock (`renewPlaced`) while it writes the
   * growing blob from `offset` (FsAppendWriter, as `chunkSink` would here), then hands the chunk in
   * (`placedAppended`) or lets the lock go (`releasePlaced`); a gateway that dies lets it lapse, and
   * the next append cuts its bytes. An upload with no growing blob (a session file's; S3) answers
   * undefined, its lock released: that chunk goes through storage.
   */
  async beginPlaced(o: AppendOptions): Promise<PlacedAppend | undefined> {
    const lock = keys.resumableLock(o.id);
    if (!(await this.lock.take(lock))) {
      await this.checkAppend(o); // a request that is wrong anyway hears why, as ChunkWriter's does
      throw new AppError('upload_locked');
    }
    let placed: PlacedAppend | undefined;
    try {
      const { rec, maxBytes } = await this.checkAppend(o);
      if (rec.appendKey && sharesVolume(this.blobs)) placed = { appendKey: rec.appendKey, offset: rec.offset, maxBytes, leaseMs: this.lock.leaseMs };
      return placed;
    } finally {
      if (!placed) await this.lock.release(lock).catch(() => undefined);
    }
  }

  /** The gateway still appends: false when its lock lapsed (it must give the chunk up). */
  renewPlaced(id: string): Promise<boolean> {
    return this.lock.renew(keys.resumableLock(id));
  }

  releasePlaced(id: string): Promise<void> {
    return this.lock.release(keys.resumableLock(id));
  }

  /**
   * The gateway's chunk is durable in the growing blob: with the lock still held, the record where
   * the chunk began and the growing blob ending where the chunk does, the record moves as for any
   * chunk (completing the upload when it was the last), and the lock goes. `sha256`: the whole
   * upload's digest so far, when the gateway carried it from byte 0 (completion then reads nothing).
   */
  async placedAppended(o: AppendOptions, chunk: { size: number; sha256?: string }): Promise<ResumableState> {
    const lock = keys.resumableLock(o.id);
    // Lapsed: another writer may hold it now, and it is not this one's to release.
    if (!(await this.lock.renew(lock))) throw new AppError('upload_locked');
    return this.lock.holding(lock, async () => {
      const { rec, maxBytes } = await this.checkAppend({ ...o, checksum: undefined });
      if (!rec.appendKey || !sharesVolume(this.blobs) || chunk.size > maxBytes) throw new AppError('bad_request', 'no such chunk on the volume');
      const end = rec.offset + chunk.size;
      const grown = await this.blobs.grownSize(rec.appendKey);
      if ((grown ?? 0) !== end) throw new AppError('unavailable', `the growing blob holds ${grown ?? 0} bytes, not ${end}`);
      return this.appended(rec, { size: chunk.size }, o.complete, { digest: chunk.sha256 });
    });
  }

  // ---- used by ChunkWriter, under the upload's lock

  /** The record a chunk may be appended to, checked against what the client says. */
  async checkAppend(o: AppendOptions): Promise<{ rec: ResumableRecord; maxBytes: number }> {
    const rec = (await this.store.get<ResumableRecord>(keys.resumable(o.id))) ?? (await this.startOrRefuse(o));
    if (rec.owner !== o.owner || rec.sessionId !== o.sessionId) throw new AppError(o.sessionId ? 'file_not_found' : 'upload_not_found');
    if (Date.now() >= rec.expiresAt) throw new AppError('upload_expired');
    if (rec.sessionId) await this.files.get({ owner: o.owner, sessionId: rec.sessionId, fileId: rec.id }); // deleted meanwhile: 404
    if (o.offset !== rec.offset) throw new AppError('offset_mismatch');
    if (rec.length !== null && rec.offset === rec.length) throw new AppError('offset_mismatch'); // a complete partial
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
   * A chunk that says it is the last (`complete`) fixes the length where it ends. Every chunk moves
   * the incomplete upload's expiry to `incompleteTtl` from now: an upload that makes progress is not
   * cut off, one that stalls goes. `carried`: the whole upload's hash through this chunk, as this
   * process carried it (`hash`) or as the gateway that appended it did (`digest`; CarriedHashes).
   */
  async appended(rec: ResumableRecord, chunk: { key?: string; size: number }, complete = false, carried?: { hash?: Hash } | { digest?: string }): Promise<ResumableState> {
    const offset = rec.offset + chunk.size;
    if (complete && rec.length !== null && rec.length !== offset) {
      await this.refuse(chunk);
      throw new AppError('invalid_upload_length', 'upload complete before its declared length');
    }
    const length = complete ? offset : rec.length;
    const expiresAt = Date.now() + this.opts.incompleteTtl * 1000;
    const next: ResumableRecord = { ...rec, length, offset, expiresAt };
    const guard = chunk.key === undefined ? undefined : chunk.size > 0 ? this.orphans.clear(chunk.key) : this.orphans.discard(chunk.key);
    if (chunk.key !== undefined && chunk.size > 0) next.chunks = [...rec.chunks, chunk.key];
    await Promise.all([this.save(next), guard]);
    // A state carried here continues; a digest a gateway carried only seals (none: any state here is behind now).
    if (rec.appendKey && carried && 'hash' in carried && carried.hash) this.hashes.keep(rec.appendKey, offset, carried.hash);
    else if (rec.appendKey && carried && 'digest' in carried) this.hashes.keepDigest(rec.appendKey, offset, carried.digest);
    return next.length === next.offset ? this.completed(next) : stateOf(next);
  }

  /** Where a chunk's bytes go: appended to the upload's growing blob, or a chunk blob of their own. */
  chunkSink(rec: ResumableRecord, maxBytes: number): BlobWriter | GrowingBlobWriter {
    if (rec.appendKey && appends(this.blobs)) return this.blobs.append(rec.appendKey, rec.offset, { maxBytes });
    return this.newBlob(maxBytes);
  }

  /** The whole-upload hash to carry through this chunk, when this process has it (see CarriedHashes). */
  carriedHash(rec: ResumableRecord): Hash | undefined {
    return rec.appendKey ? this.hashes.from(rec.appendKey, rec.offset) : undefined;
  }

  /** A chunk refused after it was stored (checksum mismatch): a chunk blob goes now; appended bytes are cut by the next append. */
  async refuse(chunk: { key?: string; size: number }): Promise<void> {
    if (chunk.key !== undefined) await this.orphans.discard(chunk.key);
  }

  /** A new blob (a chunk, or the assembled upload) under an orphan guard until a record takes it. */
  newBlob(maxBytes: number): BlobWriter {
    const key = newId();
    return this.blobs.create(key, { maxBytes, onStart: () => this.orphans.guard(key) });
  }

  /** Runs `fn` holding the upload's lock; `upload_locked` when another holds it (`wait`: until it is free). */
  locker<T>(id: string, wait: boolean, fn: () => Promise<T>): Promise<T> {
    return this.lock.run(keys.resumableLock(id), fn, wait ? undefined : new AppError('upload_locked'));
  }

  private locked<T>(id: string, fn: () => Promise<T>): Promise<T> {
    return this.locker(id, true, fn);
  }

  /** A new upload's growing blob, on a store that has them. */
  private growing(): { appendKey?: string } {
    return this.grows ? { appendKey: newId() } : {};
  }

  /** The record and its expiry entry, in one round trip. */
  private async save(rec: ResumableRecord): Promise<void> {
    const key = keys.resumable(rec.id);
    await Promise.all([this.store.schedule(key, rec.expiresAt), this.store.set(key, rec)]);
  }

  /** All bytes in: a partial waits for its final upload; anything else is completed now. */
  private completed(rec: ResumableRecord): Promise<ResumableState> {
    return rec.partial ? Promise.resolve(stateOf(rec)) : this.completion.finish(rec);
  }

  /** Re-read under the lock: completed meanwhile by someone else, or now. */
  private async completedById(b: ResumableRef): Promise<ResumableState> {
    const rec = await this.store.get<ResumableRecord>(keys.resumable(b.id));
    if (rec) return this.completed(rec);
    return b.sessionId ? this.fileState(b, b.sessionId) : this.uploadState(b);
  }

  /** No record: a finished upload (complete), or none (404/410). Someone else's is a 404. */
  private async uploadState(b: ResumableRef): Promise<ResumableState> {
    const up = await this.uploads.get(b.id);
    if (up.owner !== b.owner) throw new AppError('upload_not_found');
    return { id: up.id, offset: up.size, length: up.size, expiresAt: up.expiresAt, complete: true };
  }

  /** No record for a session file: ready (complete), or pending with nothing sent yet. */
  private async fileState(b: ResumableRef, sessionId: string): Promise<ResumableState> {
    const f = await this.files.get({ owner: b.owner, sessionId, fileId: b.id });
    return { id: f.id, offset: f.state === 'ready' ? f.size! : 0, length: f.size, expiresAt: f.expiresAt, complete: f.state === 'ready' };
  }

  /**
   * No record to append to: a session file's first chunk starts one (its length the declared size,
   * its name and type the entry's); a finished upload means the client's offset is behind; else 404/410.
   */
  private async startOrRefuse(o: AppendOptions): Promise<ResumableRecord> {
    if (o.sessionId) {
      const f = await this.files.get({ owner: o.owner, sessionId: o.sessionId, fileId: o.id });
      if (f.state === 'ready') throw new AppError('offset_mismatch');
      const now = Date.now();
      const expiresAt = Math.min(f.expiresAt, now + this.opts.incompleteTtl * 1000);
      return {
        id: f.id,
        owner: f.owner,
        name: f.name,
        contentType: f.contentType,
        ttl: 0,
        length: f.size,
        offset: 0,
        chunks: [],
        createdAt: now,
        expiresAt,
        sessionId: o.sessionId,
      };
    }
    const up = await this.store.get<UploadRecord>(keys.upload(o.id));
    // Complete already: the client's offset is behind (HEAD shows offset = length).
    if (up && up.owner === o.owner) throw new AppError('offset_mismatch');
    await this.uploads.get(o.id); // 410 for an expired one, else 404
    throw new AppError('upload_not_found');
  }
}

const stateOf = (r: ResumableRecord): ResumableState => ({
  id: r.id,
  offset: r.offset,
  length: r.length,
  expiresAt: r.expiresAt,
  complete: false,
  ...(r.partial ? { partial: true } : {}),
});
