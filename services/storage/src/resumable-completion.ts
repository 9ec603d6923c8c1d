import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { CarriedHashes, FileRecord, Logger, ResumableRecord, ResumableState, Store, UploadRecord } from '@fileshare/shared';
import { appends, type BlobStore } from './blob/blob-store.js';
import type { FileRecords } from './files.js';
import { keys } from './keys.js';
import type { UploadRecords } from './uploads.js';

/**
 * The end of a resumable upload whose last byte is in: its growing blob is sealed (fs: a rename;
 * the sha256 carried from the appends, or read once), or its chunks are streamed, in order, into one
 * new blob (S3; the sha256 computed as any upload's); the blob becomes an upload record of the same
 * id (or the session file's bytes, made ready as a PUT makes them), and the chunks go.
 *
 * Idempotent, and re-run by whoever next reads a record whose chunks are complete (a crash between
 * "offset = length" and "recorded"): it assembles a fresh blob unless the upload or file is there
 * already. The caller holds the upload's lock.
 */
export class Completion {
  constructor(
    private readonly store: Store,
    private readonly blobs: BlobStore,
    private readonly uploads: UploadRecords,
    private readonly files: FileRecords,
    private readonly log: Logger,
    private readonly hashes: CarriedHashes,
    /** A new blob under an orphan guard (ResumableUploads.newBlob). */
    private readonly newBlob: (maxBytes: number) => ReturnType<BlobStore['create']>,
  ) {}

  async finish(rec: ResumableRecord): Promise<ResumableState> {
    if (rec.sessionId) return this.finishFile(rec, rec.sessionId);
    let up = await this.store.get<UploadRecord>(keys.upload(rec.id));
    up ??= await this.uploads.record(
      { owner: rec.owner, name: rec.name, contentType: rec.contentType, ttl: rec.ttl, ...(rec.maxDownloads ? { maxDownloads: rec.maxDownloads } : {}) },
      await this.assemble(rec),
      rec.id,
    );
    await this.release(rec);
    return { id: rec.id, offset: up.size, length: up.size, expiresAt: up.expiresAt, complete: true };
  }

  /** A session file: committed as a PUT commits it. A file deleted (or filled by a PUT) meanwhile takes the chunks along. */
  private async finishFile(rec: ResumableRecord, sessionId: string): Promise<ResumableState> {
    let f = await this.store.get<FileRecord>(keys.file(rec.id));
    if (f?.state !== 'ready') {
      const blob = await this.assemble(rec);
      f = await this.files.commit({ owner: rec.owner, sessionId, fileId: rec.id, blob }).catch(async (err: unknown) => {
        await this.drop(rec);
        throw err;
      });
    }
    await this.release(rec);
    return { id: rec.id, offset: f.size!, length: f.size, expiresAt: f.expiresAt, complete: true };
  }

  /** The upload's bytes as one durable blob: the growing blob sealed, or the chunks, in order, copied into a new one. */
  private async assemble(rec: ResumableRecord) {
    if (rec.appendKey) return this.seal(rec.appendKey, rec.offset);
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
    return writer.done;
  }

  /** A growing blob as an ordinary one (idempotent), its sha256 carried or read. */
  seal(key: string, length: number) {
    if (!appends(this.blobs)) throw new Error('growing blobs on a store that cannot append');
    return this.blobs.seal(key, length, this.hashes.take(key, length));
  }

  /** Completed: the chunks (copied into the upload's blob) and the record go; a sealed growing blob is the upload's now. */
  private async release(rec: ResumableRecord): Promise<void> {
    for (const c of rec.chunks) await this.blobs.delete(c);
    await this.forget(rec.id);
  }

  /** Abandoned: the chunks or the growing blob, then the record and its expiry entry. Returns bytes freed. */
  async drop(rec: ResumableRecord): Promise<number> {
    let bytes = 0;
    for (const c of rec.chunks) bytes += await this.blobs.delete(c);
    if (rec.appendKey) {
      bytes += await this.blobs.delete(rec.appendKey);
      this.hashes.forget(rec.appendKey);
    }
    await this.forget(rec.id);
    if (bytes > 0) this.log.debug({ upload: rec.id, bytes }, 'resumable chunks deleted');
    return bytes;
  }

  /** The record and its expiry entry, not the chunks (a final upload of a concatenation took them). */
  async forget(id: string): Promise<void> {
    await this.store.delete(keys.resumable(id));
    await this.store.unschedule(keys.resumable(id));
  }
}
