/**
 * Blobs on a local (or shared) file system. Layout under `root`:
 *   blobs/<first two hex chars of key>/<key>   finished blobs, immutable
 *   tmp/<key>.part                             blobs being written
 * A write goes to tmp, is fsynced, renamed into place and the directory fsynced: a blob
 * visible under blobs/ is complete and durable. It does not deduplicate, compress or
 * encrypt, and it never builds a path from user input (keys are UUIDs made by storage).
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { AppError, isId, type BlobWriter, type ByteRange } from '@fileshare/shared';
import type { BlobStore, CreateBlobOptions } from './blob-store.js';
import { HashingBlobWriter } from './hashing-writer.js';

const READ_CHUNK = 512 * 1024;

export class FsBlobStore implements BlobStore {
  private readonly blobsDir: string;
  private readonly tmpDir: string;

  constructor(root: string) {
    this.blobsDir = join(root, 'blobs');
    this.tmpDir = join(root, 'tmp');
  }

  /** Creates the directories; fails with a clear message when the data dir is unusable. */
  async init(): Promise<void> {
    try {
      await fsp.mkdir(this.blobsDir, { recursive: true });
      await fsp.mkdir(this.tmpDir, { recursive: true });
      await fsp.access(this.tmpDir, 2 /* W_OK */);
    } catch (err) {
      throw new Error(`data directory not usable: ${(err as Error).message}`);
    }
  }

  private pathOf(key: string): string {
    if (!isId(key)) throw new AppError('not_found');
    return join(this.blobsDir, key.slice(0, 2), key);
  }

  create(key: string, opts: CreateBlobOptions): BlobWriter {
    return new FsBlobWriter(this.pathOf(key), join(this.tmpDir, `${key}.part`), key, opts);
  }

  async open(key: string, range?: ByteRange): Promise<Readable> {
    const path = this.pathOf(key);
    const fh = await fsp.open(path, 'r').catch((err: NodeJS.ErrnoException) => {
      throw err.code === 'ENOENT' ? new AppError('not_found') : err;
    });
    // The stream owns the handle and closes it once (closing the fd twice would close a
    // recycled descriptor of some other file).
    // Size the read buffer to what is asked: a 4 KiB file must not cost a 512 KiB allocation.
    const length = range ? range.end - range.start + 1 : READ_CHUNK;
    return fh.createReadStream({ start: range?.start, end: range?.end, highWaterMark: Math.max(1, Math.min(READ_CHUNK, length)) });
  }

  async delete(key: string): Promise<number> {
    const path = this.pathOf(key);
    let size = 0;
    try {
      size = (await fsp.stat(path)).size;
      await fsp.unlink(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    await fsp.unlink(join(this.tmpDir, `${key}.part`)).catch(() => undefined);
    return size;
  }

  async ping(): Promise<void> {
    await fsp.access(this.tmpDir, 2);
  }

  async close(): Promise<void> {}
}

/** temp file -> sha256 while streaming -> fsync -> rename -> fsync dir. */
class FsBlobWriter extends HashingBlobWriter {
  private fh?: fsp.FileHandle;

  constructor(
    private readonly finalPath: string,
    private readonly tmpPath: string,
    key: string,
    opts: CreateBlobOptions,
  ) {
    super(key, opts);
  }

  override _construct(cb: (err?: Error | null) => void): void {
    (async () => {
      await this.opts.onStart?.();
      this.fh = await fsp.open(this.tmpPath, 'wx', 0o640);
    })().then(() => cb(), cb);
  }

  override _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void {
    const bufs = chunks.map((c) => c.chunk);
    const err = this.account(bufs);
    if (err) return cb(err);
    writeAll(this.fh!, bufs, bufs.reduce((n, b) => n + b.length, 0)).then(() => cb(), cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    (async () => {
      const fh = this.fh!;
      await fh.sync();
      await fh.close();
      this.fh = undefined;
      const dir = this.finalPath.slice(0, this.finalPath.lastIndexOf('/'));
      // The fan-out directory is made the first time a rename finds it missing, not per upload.
      await fsp.rename(this.tmpPath, this.finalPath).catch(async (err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
        await fsp.mkdir(dir, { recursive: true });
        await fsp.rename(this.tmpPath, this.finalPath);
      });
      const dh = await fsp.open(dir, 'r');
      try {
        await dh.sync();
      } finally {
        await dh.close();
      }
      this.commit();
    })().then(() => cb(), cb);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (this.committed) return cb(err);
    this.failed(err);
    const fh = this.fh;
    this.fh = undefined;
    (async () => {
      await fh?.close().catch(() => undefined);
      await fsp.unlink(this.tmpPath).catch(() => undefined);
      await fsp.unlink(this.finalPath).catch(() => undefined);
    })().then(() => cb(err), () => cb(err));
  }
}

async function writeAll(fh: fsp.FileHandle, bufs: Buffer[], len: number): Promise<void> {
  let written = 0;
  while (written < len) {
    const { bytesWritten } = await fh.writev(bufs);
    written += bytesWritten;
    if (written < len) {
      // Partial write: drop what went out and retry the rest.
      let skip = bytesWritten;
      while (skip > 0 && bufs.length) {
        if (bufs[0].length <= skip) skip -= bufs.shift()!.length;
        else {
          bufs[0] = bufs[0].subarray(skip);
          skip = 0;
        }
      }
    }
  }
}
