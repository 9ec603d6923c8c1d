import { promises as fsp } from 'node:fs';
import type { CreateBlobOptions } from './blob-store.js';
import { HashingBlobWriter } from './hashing-writer.js';
import type { InlineBlobs } from './inline-blobs.js';
import { SyncBehind, placeDurably, writeAll } from './fs-durable.js';

/**
 * sha256 while streaming; bytes held in memory while the blob may still be inline, then
 * temp file -> fsync -> rename -> fsync dir; or, when it ends small enough, one blobs.db row.
 */
export class FsBlobWriter extends HashingBlobWriter {
  private fh?: fsp.FileHandle;
  private readonly syncBehind = new SyncBehind();
  /** Bytes not yet in a file, while the blob may still end up inline. */
  private held: Buffer[] = [];
  private heldBytes = 0;
  private inlined = false;

  constructor(
    private readonly finalPath: string,
    private readonly tmpPath: string,
    key: string,
    opts: CreateBlobOptions,
    private readonly inline: InlineBlobs | undefined,
    private readonly inlineMaxBytes: number,
  ) {
    super(key, opts);
  }

  override _construct(cb: (err?: Error | null) => void): void {
    (async () => {
      await this.opts.onStart?.();
      if (!this.inline) this.fh = await fsp.open(this.tmpPath, 'wx', 0o640);
    })().then(() => cb(), cb);
  }

  override _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void {
    const bufs = chunks.map((c) => c.chunk);
    const err = this.account(bufs);
    if (err) return cb(err);
    const len = bufs.reduce((n, b) => n + b.length, 0);
    if (!this.fh && this.heldBytes + len <= this.inlineMaxBytes) {
      // Held past the callback: copied, since the caller may reuse a chunk once it returns.
      this.held.push(Buffer.concat(bufs, len));
      this.heldBytes += len;
      return cb();
    }
    (async () => {
      if (!this.fh) {
        // Too big to be inline: from here on it is a file.
        this.fh = await fsp.open(this.tmpPath, 'wx', 0o640);
        bufs.unshift(...this.held);
        this.held = [];
        await writeAll(this.fh, bufs, this.heldBytes + len);
        this.heldBytes = 0;
      } else await writeAll(this.fh, bufs, len);
      this.syncBehind.wrote(this.fh, len);
    })().then(() => cb(), cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    (async () => {
      if (!this.fh) {
        this.inlined = true;
        await this.inline!.put(this.key, this.held.length === 1 ? this.held[0] : Buffer.concat(this.held, this.heldBytes));
        this.held = [];
        return this.commit();
      }
      const fh = this.fh;
      await this.syncBehind.settle();
      await fh.sync();
      await fh.close();
      this.fh = undefined;
      await placeDurably(this.tmpPath, this.finalPath);
      this.commit();
    })().then(() => cb(), cb);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (this.committed) return cb(err);
    this.failed(err);
    this.held = [];
    const fh = this.fh;
    this.fh = undefined;
    (async () => {
      if (this.inlined) await this.inline!.delete(this.key).catch(() => undefined);
      await fh?.close().catch(() => undefined);
      await fsp.unlink(this.tmpPath).catch(() => undefined);
      await fsp.unlink(this.finalPath).catch(() => undefined);
    })().then(
      () => cb(err),
      () => cb(err),
    );
  }
}
