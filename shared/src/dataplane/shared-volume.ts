import { randomBytes } from 'node:crypto';
import { constants, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { CarriedHashes } from '../blobfs/carried-hashes.js';
import { FsBlobWriter } from '../blobfs/fs-blob-writer.js';
import { newId } from '../ids.js';
import { metrics } from '../metrics.js';
import { blobFilePath } from '../paths.js';
import type { ResumableState, StoredBlob, UploadMeta, UploadRecord } from '../records.js';
import type { AppendOptions, AppendWriter, BlobSink, BlobWriter, ByteRange, DataPlane, UploadWriter } from './dataplane.js';
import { sendFileRange } from './file-views.js';
import { VolumeAppend } from './volume-append.js';

/**
 * Storage's books of a blob that a gateway writes on the shared volume itself (HttpDataPlane's
 * `PUT /volume/...`): the gateway writes the bytes, storage keeps the orphan guard and the record.
 */
export interface VolumeBooks {
  /** Whether storage finds `tmp/<name>` and `blobs/<name>` holding `token`: it sees this gateway's files. */
  probeVolume(name: string, token: string): Promise<boolean>;
  /** The orphan guard of `key`, taken before its first byte is written. */
  guardPlaced(key: string): Promise<void>;
  /** Bytes nobody will record: storage removes them (if any are left) and their guard. */
  dropPlaced(key: string): Promise<void>;
  /** The record of a placed blob (storage checks the file; refused, it removes the bytes). */
  recordPlaced(blob: StoredBlob, meta: UploadMeta): Promise<UploadRecord>;
  /**
   * A resumable chunk this gateway appends itself (VolumeAppend): storage takes the upload's lock
   * for it and checks the chunk as its own; undefined: the upload has no growing blob (append
   * through storage; the lock is not taken).
   */
  beginAppend(o: AppendOptions): Promise<PlacedAppend | undefined>;
  /** Keeps the lock while the chunk streams; false when it lapsed. */
  renewAppend(id: string): Promise<boolean>;
  /** The chunk is durable in the growing blob: storage moves the offset (`sha256`: the whole upload's, when carried) and lets the lock go. */
  endAppend(o: AppendOptions, chunk: { size: number; sha256?: string }): Promise<ResumableState>;
  /** The chunk is given up: the lock goes (the next append cuts its bytes). */
  releaseAppend(id: string): Promise<void>;
}

/** Storage's go-ahead for a chunk a gateway appends on the volume (VolumeBooks.beginAppend). */
export interface PlacedAppend {
  /** The upload's growing blob: `tmp/<appendKey>.part`. */
  appendKey: string;
  /** Where the chunk starts: the acknowledged offset. */
  offset: number;
  /** The most the chunk may hold. */
  maxBytes: number;
  /** The lock's lease: renew well within it. */
  leaseMs: number;
}

export interface SharedVolumeOptions {
  /** Downloads read finished blobs from the volume (`blob.fs.gatewayReads`). */
  reads: boolean;
  /** Large uploads and resumable chunks are written onto the volume here (`blob.fs.gatewayWrites`), once storage is seen to share it. */
  writes: boolean;
}

/**
 * A body declared smaller than this goes to storage even when writes are on: there it may become a
 * row of blobs.db (small blobs are never files), and the two extra round trips of a placed blob
 * (guard, record) would cost more than the bytes. A body of unknown length (chunked) is placed.
 */
export const PLACE_FROM_BYTES = 1024 * 1024;
const VOLUME_PROBE = /^volume-probe-[0-9a-f-]{36}$/;
/** A new name for a gateway's volume probe file (in `tmp/` and `blobs/`; see SharedVolume.probe). */
const volumeProbeName = () => `volume-probe-${newId()}`;
/** Whether a file name is a volume probe's: storage reads no other for a probe, and it is no blob. */
export const isVolumeProbe = (name: string): boolean => VOLUME_PROBE.test(name);

/** How often a gateway checks again that storage sees its files (after a success; failures retry sooner). */
const RECHECK_MS = 60_000;

/**
 * A standalone gateway's data plane when the fs blobs are on a volume it shares with storage (one
 * host, or a shared mount of the same data directory).
 *
 * Reads: downloads read a finished blob's file themselves, as the all-in-one process does, instead
 * of taking every byte through storage's process and a second socket (two more kernel copies per
 * byte). Any blob not found there as a whole file (a small blob in blobs.db, a volume not shared, a
 * file that cannot be read) comes from storage. Safe because a file under blobs/ is complete and
 * never changes: it is renamed into place only once it is durable, and only ever deleted; a download
 * that opened it before a delete reads it whole, as one through storage would.
 *
 * Writes: a large upload's bytes are written here, in storage's layout and with its writer
 * (FsBlobWriter: `tmp/<key>.part`, fsync, rename, directory fsync), instead of crossing a socket to
 * storage's process, which would receive and write them again. Storage keeps the books
 * (VolumeBooks): the orphan guard before the first byte, so a gateway that dies mid-upload leaves
 * bytes that expiry removes, and the record once they are durable. A large resumable chunk is
 * appended here the same way (VolumeAppend), under the upload's lock that storage takes for this
 * gateway. Only after a probe showed that storage sees the files this gateway wrote in `tmp/` and
 * `blobs/`; until then, or when it does not, uploads go through storage as before.
 */
export class SharedVolume implements DataPlane {
  private readonly blobsDir: string;
  private readonly tmpDir: string;
  /** The sha256 of resumable uploads appended here, carried from one chunk to the next. */
  private readonly hashes = new CarriedHashes();
  /** Storage saw this gateway's probe file, last time it was asked. */
  private placing = false;
  private timer?: NodeJS.Timeout;
  private retryMs = 500;
  private closed = false;
  /** The first probe's outcome is in (writes off: at once). */
  readonly probed: Promise<void>;

  constructor(
    private readonly storage: DataPlane & VolumeBooks,
    /** Storage's data directory as mounted here (its `blobs` and `tmp`, FsBlobStore's layout). */
    dataDir: string,
    private readonly opts: SharedVolumeOptions,
  ) {
    this.blobsDir = join(dataDir, 'blobs');
    this.tmpDir = join(dataDir, 'tmp');
    this.probed = opts.writes ? this.check() : Promise.resolve();
  }

  /** Probes now and again: every minute while storage sees the volume, sooner (doubling) while it cannot be asked or does not. */
  private async check(): Promise<void> {
    const seen = await this.probe();
    if (this.closed) return;
    this.placing = seen;
    metrics.volumeShared.set(seen ? 1 : 0);
    this.retryMs = seen ? 500 : Math.min(this.retryMs * 2, RECHECK_MS);
    this.timer = setTimeout(() => void this.check(), seen ? RECHECK_MS : this.retryMs);
    this.timer.unref();
  }

  /**
   * A file written to `tmp/` and one to `blobs/` that storage reads back (it removes orphans' temp
   * files, and serves and deletes the blobs), both directories on one filesystem (the rename).
   */
  private async probe(): Promise<boolean> {
    const name = volumeProbeName();
    const paths = [join(this.tmpDir, name), join(this.blobsDir, name)];
    const token = randomBytes(16).toString('hex');
    try {
      const [tmp, blobs] = await Promise.all([fsp.stat(this.tmpDir), fsp.stat(this.blobsDir)]);
      if (!tmp.isDirectory() || !blobs.isDirectory() || tmp.dev !== blobs.dev) return false;
      await Promise.all(paths.map((p) => fsp.writeFile(p, token, { flag: 'wx', mode: 0o640 })));
      return await this.storage.probeVolume(name, token);
    } catch {
      return false;
    } finally {
      await Promise.all(paths.map((p) => fsp.unlink(p).catch(() => undefined)));
    }
  }

  /** Stops the probes. */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }

  async sendBlob(key: string, range: ByteRange, sink: BlobSink): Promise<void> {
    const fh = this.opts.reads ? await this.openWhole(key, range) : undefined;
    if (!fh) return this.storage.sendBlob(key, range, sink);
    metrics.blobReads.inc({ from: 'volume' });
    sendFileRange(fh, range, sink);
  }

  /** The blob's file, open, when it is here and holds the range; else undefined (ask storage). */
  private async openWhole(key: string, range: ByteRange) {
    const path = blobFilePath(this.blobsDir, key);
    if (!path) return undefined;
    // Non-blocking: something that is no file there (a FIFO) must not hold a thread of the pool.
    const fh = await fsp.open(path, constants.O_RDONLY | constants.O_NONBLOCK).catch(() => undefined);
    if (!fh) return undefined;
    const st = await fh.stat().catch(() => undefined);
    if (st?.isFile() && st.size > range.end) return fh;
    await fh.close().catch(() => undefined);
    return undefined;
  }

  /** Whether a body of this declared length (undefined: unknown) is written here. */
  private fits(expectedBytes: number | undefined): boolean {
    return this.placing && (expectedBytes === undefined || expectedBytes < 0 || expectedBytes >= PLACE_FROM_BYTES);
  }

  /** `fits`, counted (a placed append counts once storage said where it goes: VolumeAppend). */
  private places(expectedBytes: number | undefined): boolean {
    const placed = this.fits(expectedBytes);
    metrics.blobWrites.inc({ to: placed ? 'volume' : 'storage' });
    return placed;
  }

  createBlob(opts: { maxBytes: number; expectedBytes?: number }): BlobWriter {
    return this.places(opts.expectedBytes) ? this.placedBlob(opts.maxBytes) : this.storage.createBlob(opts);
  }

  createUpload(opts: { maxBytes: number; meta: Promise<UploadMeta>; expectedBytes?: number }): UploadWriter {
    if (!this.places(opts.expectedBytes)) return this.storage.createUpload(opts);
    opts.meta.catch(() => undefined); // awaited once the bytes are durable; a refusal before must not go unhandled
    const writer = this.placedBlob(opts.maxBytes);
    const record = writer.done.then(async (blob) => {
      let meta: UploadMeta;
      try {
        meta = await opts.meta;
      } catch (err) {
        await this.storage.dropPlaced(blob.key).catch(() => undefined); // else its guard removes it
        throw err;
      }
      // Refused, storage removed the bytes; unanswered (storage gone), the guard does.
      return this.storage.recordPlaced(blob, meta);
    });
    record.catch(() => undefined); // the owner awaits it
    return Object.assign(writer, { record });
  }

  /**
   * A new blob written here under storage's orphan guard. A writer that fails removes its files
   * itself; once it has closed (any guard request settled), storage drops the guard too (should
   * that fail, the guard comes due and removes nothing).
   */
  private placedBlob(maxBytes: number): BlobWriter {
    const key = newId();
    const writer = new FsBlobWriter(
      blobFilePath(this.blobsDir, key)!,
      join(this.tmpDir, `${key}.part`),
      key,
      { maxBytes, onStart: () => this.storage.guardPlaced(key) },
      undefined,
    );
    const done = writer.done.catch(async (err: Error) => {
      await finished(writer).catch(() => undefined);
      await this.storage.dropPlaced(key).catch(() => undefined);
      throw err;
    });
    done.catch(() => undefined); // the owner awaits it
    return Object.assign(writer, { done });
  }

  storeUpload(opts: { bytes: Buffer; maxBytes: number; meta: UploadMeta }): Promise<UploadRecord> {
    return this.storage.storeUpload(opts);
  }

  /** A resumable chunk: written here (VolumeAppend) when it is large or of unknown length, as a whole upload would be. */
  appendUpload(opts: AppendOptions): AppendWriter {
    if (this.fits(opts.expectedBytes)) return new VolumeAppend(this.storage, this.tmpDir, this.hashes, opts);
    metrics.blobWrites.inc({ to: 'storage' });
    return this.storage.appendUpload(opts);
  }

  ping(): Promise<void> {
    return this.storage.ping();
  }
}
