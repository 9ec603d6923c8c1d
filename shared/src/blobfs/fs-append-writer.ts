import { promises as fsp } from 'node:fs';
import { dirname } from 'node:path';
import { Writable } from 'node:stream';
import { deferred } from '../deferred.js';
import { AppError } from '../errors.js';
import { SyncBehind, syncDir, writeAll } from './durable-files.js';
import type { CreateBlobOptions } from './hashing-writer.js';

/** One append to a growing blob: `done` resolves with the bytes appended once they are durable. */
export interface GrowingBlobWriter extends Writable {
  readonly done: Promise<{ size: number }>;
}

/**
 * One append to a growing blob file (FsBlobStore's Appendable, and a gateway appending on the
 * shared volume under storage's lease: SharedVolume): opens it (created on the first
 * append, its directory synced then), cuts it back to `at` — bytes past the acknowledged offset
 * are an append that failed — writes, and fdatasyncs before `done`. A failure keeps the file as
 * it is: the next append cuts it back again. Bytes are not hashed here (the caller does, once).
 */
export class FsAppendWriter extends Writable implements GrowingBlobWriter {
  private readonly settle = deferred<{ size: number }>({ unhandled: 'ignore' });
  readonly done = this.settle.promise;
  private fh?: fsp.FileHandle;
  private size = 0;
  private created = false;
  private readonly syncBehind = new SyncBehind();

  constructor(
    private readonly path: string,
    private readonly at: number,
    private readonly opts: CreateBlobOptions,
  ) {
    super({ highWaterMark: 1024 * 1024 });
    this.on('error', () => undefined); // reported through `done`
  }

  override _construct(cb: (err?: Error | null) => void): void {
    (async () => {
      await this.opts.onStart?.();
      this.fh = await fsp.open(this.path, 'a', 0o640);
      const { size } = await this.fh.stat();
      if (size < this.at) throw new Error(`growing blob ${this.path} has ${size} bytes; ${this.at} were acknowledged`);
      if (size > this.at) await this.fh.truncate(this.at);
      this.created = size === 0;
    })().then(() => cb(), cb);
  }

  override _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void {
    const bufs = chunks.map((c) => c.chunk);
    const len = bufs.reduce((n, b) => n + b.length, 0);
    this.size += len;
    if (this.size > this.opts.maxBytes) return cb(new AppError('file_too_large'));
    writeAll(this.fh!, bufs, len).then(() => {
      this.syncBehind.wrote(this.fh!, len);
      cb();
    }, cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    (async () => {
      await this.syncBehind.settle();
      await this.fh!.datasync();
      await this.fh!.close();
      this.fh = undefined;
      if (this.created) await syncDir(dirname(this.path));
      this.settle.resolve({ size: this.size });
    })().then(() => cb(), cb);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.settle.reject(err ?? new AppError('incomplete_body'));
    const fh = this.fh;
    this.fh = undefined;
    void (fh?.close().catch(() => undefined) ?? Promise.resolve()).then(() => cb(err));
  }
}
