/**
 * Blobs on a local (or shared) file system. Layout under `root`:
 *   blobs/<first two hex chars of key>/<key>   finished blobs, immutable
 *   tmp/<key>.part                             blobs being written (here, or by a gateway on this
 *                                              volume: blob.fs.gatewayWrites), and growing blobs (Appendable)
 *   tmp/volume-probe-<id>, blobs/volume-probe-<id>   a gateway's check that it shares this volume
 *   blobs.db                                   small blobs (≤ inlineMaxBytes), SQLite
 * A write goes to tmp, is fsynced, renamed into place and the directory fsynced: a blob
 * visible under blobs/ is complete and durable. A blob that ends within `inlineMaxBytes` is
 * never a file: it is one row of blobs.db, group-committed with the others of its moment under
 * one fsync (creating a file, renaming it and two fsyncs cost the kernel ~6× more per 4 KiB
 * upload, measured). The writer holds up to `inlineMaxBytes` in memory, then spills to tmp.
 * Given `inlineFile` (the all-in-one process: the record store's SQLite file), small blobs are
 * rows of a table there instead, so that a blob and its record can be one transaction
 * (`deferSmall`); rows an earlier version left in blobs.db are still read and deleted.
 * It does not deduplicate, compress or encrypt, and it never builds a path from user input
 * (keys are UUIDs made by storage). blobs.db needs a local file system (SQLite locking).
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  AppError,
  FILE_READ_CHUNK,
  FsAppendWriter,
  FsBlobWriter,
  blobFilePath,
  isVolumeProbe,
  placeDurably,
  sendFileRange,
  sendFileViews,
  type BlobSink,
  type BlobWriter,
  type ByteRange,
  type GrowingBlobWriter,
  type StoredBlob,
} from '@fileshare/shared';
import type { Appendable, BlobStore, DefersWhole, CreateBlobOptions, RangeSender, SharesVolume } from './blob-store.js';
import { InlineBlobs } from './inline-blobs.js';
import type { DurableSqlite } from '@fileshare/shared/durable-sqlite';

export interface FsBlobStoreOptions {
  /** Blobs up to this many bytes are SQLite rows (blobs.db, or `inlineFile`); 0 keeps every blob a file. */
  inlineMaxBytes?: number;
  /**
   * Free bytes below which `ping` fails (the process reports not ready, so a balancer sends
   * uploads elsewhere; downloads are still served). 0: no floor.
   */
  minFreeBytes?: number;
  /** Keep small blobs in this file (the record store's; all-in-one only) instead of blobs.db. */
  inlineFile?: DurableSqlite;
}

export class FsBlobStore implements BlobStore, RangeSender, Appendable, DefersWhole, SharesVolume {
  private readonly blobsDir: string;
  private readonly tmpDir: string;
  private readonly inlineMaxBytes: number;
  private readonly minFreeBytes: number;
  private readonly inlineFile?: DurableSqlite;
  private inline?: InlineBlobs;
  /** blobs.db left by an earlier version while small blobs now live in `inlineFile`: read and deleted, never written. */
  private legacy?: InlineBlobs;

  constructor(
    private readonly root: string,
    opts: FsBlobStoreOptions = {},
  ) {
    this.blobsDir = join(root, 'blobs');
    this.tmpDir = join(root, 'tmp');
    this.inlineMaxBytes = opts.inlineMaxBytes ?? 0;
    this.minFreeBytes = opts.minFreeBytes ?? 0;
    this.inlineFile = opts.inlineFile;
  }

  /** Creates the directories; fails with a clear message when the data dir is unusable. */
  async init(): Promise<void> {
    try {
      await fsp.mkdir(this.blobsDir, { recursive: true });
      await fsp.mkdir(this.tmpDir, { recursive: true });
      await fsp.access(this.tmpDir, 2 /* W_OK */);
      const own = join(this.root, 'blobs.db');
      if (this.inlineFile) {
        this.inline = new InlineBlobs(this.inlineFile, false);
        if (existsSync(own)) this.legacy = await InlineBlobs.open(own);
      }
      // An existing blobs.db is opened even with the limit since set to 0: its rows are still read.
      else if (this.inlineMaxBytes > 0 || existsSync(own)) this.inline = await InlineBlobs.open(own);
    } catch (err) {
      throw new Error(`data directory not usable: ${(err as Error).message}`);
    }
  }

  private pathOf(key: string): string {
    const path = blobFilePath(this.blobsDir, key);
    if (!path) throw new AppError('not_found');
    return path;
  }

  /** Where small blobs are rows, when new ones may be (a limit above 0); undefined: every new blob is a file. */
  private get smallRows(): InlineBlobs | undefined {
    return this.inlineMaxBytes > 0 ? this.inline : undefined;
  }

  create(key: string, opts: CreateBlobOptions): BlobWriter {
    const rows = this.smallRows;
    // A small blob is left to the caller only where its row can join the caller's record transaction.
    const inline = rows ? { rows, maxBytes: this.inlineMaxBytes, defer: !!this.inlineFile && !!opts.deferSmall } : undefined;
    return new FsBlobWriter(this.pathOf(key), join(this.tmpDir, `${key}.part`), key, opts, inline);
  }

  deferWhole(key: string, bytes: Buffer): StoredBlob | undefined {
    const rows = this.smallRows;
    // Only where its row can join the caller's record transaction, as `create` with `deferSmall`.
    if (!rows || !this.inlineFile || bytes.length > this.inlineMaxBytes) return undefined;
    this.pathOf(key); // a key that is no id is refused here too
    return { key, size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex'), pending: () => rows.put(key, bytes) };
  }

  append(key: string, at: number, opts: CreateBlobOptions): GrowingBlobWriter {
    this.pathOf(key); // a key that is no id is refused here too
    return new FsAppendWriter(this.partOf(key), at, opts);
  }

  async seal(key: string, length: number, sha256?: string): Promise<StoredBlob> {
    const part = this.partOf(key);
    const path = this.pathOf(key);
    const size = await fsp.stat(part).then(
      (st) => st.size,
      (err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? -1 : Promise.reject(err)),
    );
    if (size === -1 && length === 0 && !(await fsp.stat(path).catch(() => null))) {
      // Nothing was ever appended (an empty upload): an empty blob.
      await (await fsp.open(part, 'w', 0o640)).close();
      return this.seal(key, 0, sha256);
    }
    if (size === -1) {
      // Sealed already (a completion that crashed after the rename runs again).
      const sealed = await fsp.stat(path).catch(() => {
        throw new AppError('not_found');
      });
      if (sealed.size !== length) throw new Error(`sealed blob ${key} has ${sealed.size} bytes, not ${length}`);
      return { key, size: length, sha256: sha256 ?? (await hashFile(path, length)) };
    }
    if (size < length) throw new Error(`growing blob ${key} has ${size} bytes, not ${length}`);
    if (size > length) {
      const fh = await fsp.open(part, 'r+');
      await fh
        .truncate(length)
        .then(() => fh.datasync())
        .finally(() => fh.close());
    }
    const hash = sha256 ?? (await hashFile(part, length));
    await placeDurably(part, path);
    return { key, size: length, sha256: hash };
  }

  private partOf(key: string): string {
    return join(this.tmpDir, `${key}.part`);
  }

  async seesProbe(name: string, token: string): Promise<boolean> {
    if (!isVolumeProbe(name) || !token) return false; // never a path from the request
    const read = (dir: string) => fsp.readFile(join(dir, name), 'utf8').catch(() => undefined);
    const [tmp, blobs] = await Promise.all([read(this.tmpDir), read(this.blobsDir)]);
    return tmp === token && blobs === token;
  }

  async placedSize(key: string): Promise<number | undefined> {
    const st = await fsp.stat(this.pathOf(key)).catch(() => undefined);
    return st?.isFile() ? st.size : undefined;
  }

  async grownSize(key: string): Promise<number | undefined> {
    this.pathOf(key); // a key that is no id is refused here too
    const st = await fsp.stat(this.partOf(key)).catch(() => undefined);
    return st?.isFile() ? st.size : undefined;
  }

  async open(key: string, range?: ByteRange): Promise<Readable> {
    const path = this.pathOf(key);
    const small = this.small(key);
    if (small) return bufferStream(range ? small.subarray(range.start, range.end + 1) : small);
    const fh = await fsp.open(path, 'r').catch((err: NodeJS.ErrnoException) => {
      throw err.code === 'ENOENT' ? new AppError('not_found') : err;
    });
    // The stream owns the handle and closes it once (closing the fd twice would close a
    // recycled descriptor of some other file).
    // Size the read buffer to what is asked: a 4 KiB file must not cost a 512 KiB allocation.
    const length = range ? range.end - range.start + 1 : FILE_READ_CHUNK;
    return fh.createReadStream({ start: range?.start, end: range?.end, highWaterMark: Math.max(1, Math.min(FILE_READ_CHUNK, length)) });
  }

  async sendRange(key: string, range: ByteRange, sink: BlobSink): Promise<void> {
    const small = this.small(key);
    if (small) return void sendFileViews(sink, async (buf, pos) => small.copy(buf, 0, pos, Math.min(small.length, pos + buf.length)), range);
    const fh = await fsp.open(this.pathOf(key), 'r').catch((err: NodeJS.ErrnoException) => {
      throw err.code === 'ENOENT' ? new AppError('not_found') : err;
    });
    sendFileRange(fh, range, sink);
  }

  /** A small blob's bytes, when it is one. */
  private small(key: string): Buffer | undefined {
    return this.inline?.get(key) ?? this.legacy?.get(key);
  }

  async delete(key: string): Promise<number> {
    const path = this.pathOf(key);
    const inlineSize = (await this.inline?.delete(key)) ?? (await this.legacy?.delete(key));
    // A blob is a row or a file, never both (written once under a fresh key).
    if (inlineSize !== undefined) return inlineSize;
    let size = 0;
    try {
      size = (await fsp.stat(path)).size;
      await fsp.unlink(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    await fsp.unlink(this.partOf(key)).catch(() => undefined);
    return size;
  }

  async ping(): Promise<void> {
    await fsp.access(this.tmpDir, 2);
    this.inline?.ping();
    if (this.minFreeBytes > 0) {
      const free = await this.freeBytes();
      if (free < this.minFreeBytes) throw new Error(`${free} bytes free in ${this.root}, below storage.minFreeBytes (${this.minFreeBytes})`);
    }
  }

  /** Bytes an unprivileged writer may still use on the data directory's filesystem. */
  private async freeBytes(): Promise<number> {
    const st = await fsp.statfs(this.root);
    return st.bavail * st.bsize;
  }

  async close(): Promise<void> {
    await this.inline?.close();
    await this.legacy?.close();
  }
}

/** The sha256 (hex) of a file's first `length` bytes, read once. */
async function hashFile(path: string, length: number): Promise<string> {
  const hash = createHash('sha256');
  if (length > 0) for await (const c of createReadStream(path, { start: 0, end: length - 1, highWaterMark: 1024 * 1024 })) hash.update(c as Buffer);
  return hash.digest('hex');
}

/** A readable of one in-memory buffer (an inline blob). */
function bufferStream(buf: Buffer): Readable {
  return new Readable({
    read() {
      if (buf.length) this.push(buf);
      this.push(null);
    },
  });
}
