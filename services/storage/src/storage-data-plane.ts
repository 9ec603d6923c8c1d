import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import {
  AppError,
  isId,
  newId,
  sendReadable,
  storeThroughWriter,
  type AppendOptions,
  type AppendWriter,
  type BlobSink,
  type BlobWriter,
  type ByteRange,
  type DataPlane,
  type PlacedAppend,
  type ResumableState,
  type Store,
  type StoredBlob,
  type UploadMeta,
  type UploadRecord,
  type UploadWriter,
} from '@fileshare/shared';
import { defersWhole, sendsRanges, sharesVolume, type BlobStore } from './blob/blob-store.js';
import type { Orphans } from './orphans.js';
import type { ResumableUploads } from './resumable.js';
import type { UploadRecords } from './uploads.js';

/**
 * Storage's side of the data plane: the gateway's object in all-in-one mode, and what the
 * internal HTTP server (data-plane-server.ts) calls in distributed mode. Bytes are durable before
 * a record points at them; bytes not (yet) referenced by a record carry an orphan guard (Orphans).
 */
export class StorageDataPlane implements DataPlane {
  /** Writers not yet settled: shutdown waits for them, so a cut upload has removed its bytes. */
  private readonly writing = new Set<Promise<unknown>>();

  constructor(
    private readonly store: Store,
    private readonly blobs: BlobStore,
    private readonly orphans: Orphans,
    private readonly uploads: UploadRecords,
    private readonly resumable: ResumableUploads,
  ) {}

  /** Resolves when every blob being written has finished or cleaned up after itself. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.writing]);
  }

  /** `sha256`: the sender's digest (the data-plane server's, from the gateway; CreateBlobOptions). */
  createBlob(opts: { maxBytes: number; sha256?: () => string | undefined }): BlobWriter {
    return this.guardedBlob(opts.maxBytes, false, opts.sha256);
  }

  /** A new blob under an orphan guard; `deferSmall`: see CreateBlobOptions (a small one may need no guard at all). */
  private guardedBlob(maxBytes: number, deferSmall: boolean, sha256?: () => string | undefined): BlobWriter {
    const key = newId();
    const writer = this.blobs.create(key, { maxBytes, deferSmall, sha256, onStart: () => this.orphans.guard(key) });
    // An aborted write removed its bytes itself; drop the guard too.
    const settled = writer.done.then(
      () => undefined,
      () =>
        finished(writer)
          .catch(() => undefined)
          .then(() => this.orphans.clear(key))
          .catch(() => undefined),
    );
    this.track(settled);
    return writer;
  }

  /** Work shutdown waits for (`settled`): kept until it ends, whatever its outcome. */
  private track(work: Promise<unknown>): void {
    const settled = work.then(
      () => undefined,
      () => undefined,
    );
    this.writing.add(settled);
    void settled.finally(() => this.writing.delete(settled));
  }

  /**
   * `POST /uploads`: the blob, then, once it is durable and the gateway has read the whole form
   * (`meta`), its record. Bytes that get no record are discarded (a deferred small blob was never written).
   */
  createUpload(opts: { maxBytes: number; meta: Promise<UploadMeta>; sha256?: () => string | undefined }): UploadWriter {
    opts.meta.catch(() => undefined); // awaited once the bytes are durable; a refusal before must not go unhandled
    // A small blob may be left to the record (all-in-one): bytes, record and expiry entry then
    // commit as one transaction, under one fsync, with no orphan guard (UploadRecords.record).
    const writer = this.guardedBlob(opts.maxBytes, true, opts.sha256);
    const record = writer.done.then((blob) => this.record(opts.meta, blob));
    record.catch(() => undefined); // the owner awaits it
    return Object.assign(writer, { record });
  }

  /**
   * A small form's bytes, all in hand: where the blob store can leave them to the record (all-in-one,
   * small blobs in the record store's file), bytes, record and expiry entry are one transaction,
   * with no writer at all; otherwise they go through `createUpload`.
   */
  storeUpload(opts: { bytes: Buffer; maxBytes: number; meta: UploadMeta }): Promise<UploadRecord> {
    if (opts.bytes.length > opts.maxBytes) return Promise.reject(new AppError('file_too_large'));
    const blob = defersWhole(this.blobs) ? this.blobs.deferWhole(newId(), opts.bytes) : undefined;
    if (!blob) return storeThroughWriter(this, opts);
    const record = this.record(Promise.resolve(opts.meta), blob);
    this.track(record);
    return record;
  }

  /**
   * The record of durable bytes (or of bytes left to it: `pending`), once `meta` is known; bytes
   * that get none (`meta` refused, the record failed) are discarded.
   */
  private record(meta: Promise<UploadMeta>, blob: StoredBlob): Promise<UploadRecord> {
    return meta
      .then((m) => this.uploads.record(m, blob))
      .catch(async (err) => {
        await this.orphans.discard(blob.key);
        throw err;
      });
  }

  /**
   * A gateway on the fs blobs' volume (blob.fs.gatewayWrites) writes the bytes itself, as the
   * all-in-one process does, and storage keeps the books: the orphan guard before its first byte
   * (`guardPlaced`), then the record (`recordPlaced`) or the bytes' removal (`dropPlaced`). First
   * it checks that storage sees the files it writes (`seesVolumeProbe`).
   */
  async seesVolumeProbe(name: string, token: string): Promise<boolean> {
    return sharesVolume(this.blobs) && (await this.blobs.seesProbe(name, token));
  }

  /** The orphan guard of a blob a gateway is about to write on the volume (kept until a record takes it). */
  guardPlaced(key: string): Promise<void> {
    if (!isId(key)) return Promise.reject(new AppError('bad_request', 'not a blob key'));
    return this.orphans.guard(key);
  }

  /** Bytes a gateway wrote on the volume that nobody will record: they go, and their guard. */
  async dropPlaced(key: string): Promise<void> {
    if (!isId(key)) throw new AppError('bad_request', 'not a blob key');
    await this.orphans.discard(key);
  }

  /**
   * The record of a blob a gateway placed on the volume (`POST /uploads` through it): the file must
   * be there with the size the gateway wrote; otherwise, or when the record is refused, it goes.
   */
  async recordPlaced(blob: StoredBlob, meta: UploadMeta): Promise<UploadRecord> {
    if (!isId(blob.key) || !sharesVolume(this.blobs)) throw new AppError('bad_request', 'no blob on this volume');
    const size = await this.blobs.placedSize(blob.key);
    if (size !== blob.size) {
      await this.orphans.discard(blob.key);
      // The gateway's volume is not (or no longer) storage's: the deployment's fault, not the client's.
      throw new AppError('unavailable', `blob ${blob.key} is not on storage's volume with ${blob.size} bytes`);
    }
    const record = this.record(Promise.resolve(meta), { key: blob.key, size: blob.size, sha256: blob.sha256 });
    this.track(record);
    return record;
  }

  /**
   * A resumable chunk a gateway on the volume appends itself (VolumeAppend): the upload's lock is
   * taken for it and the chunk checked (undefined: no growing blob, append through storage), kept
   * while it writes, then the chunk handed in (the offset moves) or given up; ResumableUploads.
   */
  async beginPlacedAppend(o: AppendOptions): Promise<PlacedAppend | undefined> {
    return this.resumable.beginPlaced(checkedAppend(o));
  }

  async renewPlacedAppend(id: string): Promise<boolean> {
    return this.resumable.renewPlaced(checkedId(id));
  }

  async placedAppended(o: AppendOptions, chunk: { size: number; sha256?: string }): Promise<ResumableState> {
    const state = this.resumable.placedAppended(checkedAppend(o), chunk);
    this.track(state);
    return state;
  }

  async releasePlacedAppend(id: string): Promise<void> {
    return this.resumable.releasePlaced(checkedId(id));
  }

  /** A chunk of a resumable upload (ResumableUploads); shutdown waits for it like for any writer. */
  appendUpload(opts: AppendOptions): AppendWriter {
    const writer = this.resumable.append(opts);
    this.track(writer.state);
    return writer;
  }

  /** The whole blob or a range as a stream (the data-plane server's GET without a Range). */
  readBlob(key: string, range?: ByteRange): Promise<Readable> {
    return this.blobs.open(key, range);
  }

  async sendBlob(key: string, range: ByteRange, sink: BlobSink): Promise<void> {
    if (sendsRanges(this.blobs)) return this.blobs.sendRange(key, range, sink);
    sendReadable(await this.blobs.open(key, range), sink);
  }

  async ping(): Promise<void> {
    await Promise.all([this.store.ping(), this.blobs.ping()]);
  }
}

/** An upload id from a volume request, or a 400 (it names a lock and a record). */
function checkedId(id: string): string {
  if (!isId(id)) throw new AppError('bad_request', 'not an upload id');
  return id;
}

function checkedAppend(o: AppendOptions): AppendOptions {
  checkedId(o.id);
  return o;
}
