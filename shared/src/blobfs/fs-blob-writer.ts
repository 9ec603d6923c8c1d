import { promises as fsp } from 'node:fs';
import { HashingBlobWriter, type CreateBlobOptions } from './hashing-writer.js';
import { SyncBehind, placeDurably, writeAll } from './durable-files.js';

/** Where a blob that ends small goes: a row of `rows`; with `defer`, left to the caller (StoredBlob.pending). */
export interface InlineTarget {
  /** Storage's small blobs (InlineBlobs). */
  rows: { put(key: string, data: Buffer): Promise<void>; delete(key: string): Promise<unknown> };
  maxBytes: number;
  defer: boolean;
}

/**
 * sha256 while streaming; bytes held in memory while the blob may still be inline, then
 * temp file -> fsync -> rename -> fsync dir; or, when it ends small enough, one row of small
 * blobs. The orphan guard (`onStart`) is taken before the first byte reaches the disk: when the
 * first file write or the row is due, not for a deferred row (its record's transaction writes it).
 */
export class FsBlobWriter extends HashingBlobWriter {
  private fh?: fsp.FileHandle;
  private readonly syncBehind = new SyncBehind();
  /** Bytes not yet in a file, while the blob may still end up inline. */
  private held: Buffer[] = [];
  private heldBytes = 0;
  private inlined = false;
  /** The temp file being opened (after the guard), which `_destroy` waits for. */
  private opening?: Promise<fsp.FileHandle>;

  constructor(
    private readonly finalPath: string,
    private readonly tmpPath: string,
    key: string,
    opts: CreateBlobOptions,
    private readonly inline: InlineTarget | undefined,
  ) {
    super(key, opts);
  }

  override _construct(cb: (err?: Error | null) => void): void {
    if (this.inline) return cb();
    this.openFile().then(() => cb(), cb);
  }

  /**
   * The guard, then the temp file. A writer destroyed meanwhile opens nothing; one destroyed
   * while the file opens has `_destroy` wait for it, then close and remove it.
   */
  private openFile(): Promise<fsp.FileHandle> {
    this.opening = (async () => {
      await this.opts.onStart?.();
      if (this.destroyed) throw new Error('blob writer destroyed');
      this.fh = await fsp.open(this.tmpPath, 'wx', 0o640);
      return this.fh;
    })();
    return this.opening;
  }

  override _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void {
    const bufs = chunks.map((c) => c.chunk);
    const err = this.account(bufs);
    if (err) return cb(err);
    const len = bufs.reduce((n, b) => n + b.length, 0);
    if (!this.fh && this.heldBytes + len <= (this.inline?.maxBytes ?? 0)) {
      // Held past the callback: copied, since the caller may reuse a chunk once it returns.
      this.held.push(Buffer.concat(bufs, len));
      this.heldBytes += len;
      return cb();
    }
    (async () => {
      if (!this.fh) {
        // Too big to be inline: from here on it is a file.
        const fh = await this.openFile();
        bufs.unshift(...this.held);
        this.held = [];
        await writeAll(fh, bufs, this.heldBytes + len);
        this.heldBytes = 0;
      } else await writeAll(this.fh, bufs, len);
      this.syncBehind.wrote(this.fh!, len);
    })().then(() => cb(), cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    (async () => {
      this.finishDigest();
      if (!this.fh) {
        const { rows, defer } = this.inline!;
        const data = this.held.length === 1 ? this.held[0] : Buffer.concat(this.held, this.heldBytes);
        this.held = [];
        if (defer) return this.commit(() => rows.put(this.key, data));
        await this.opts.onStart?.();
        if (this.destroyed) return;
        this.inlined = true;
        await rows.put(this.key, data);
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
    (async () => {
      await this.opening?.catch(() => undefined);
      const fh = this.fh;
      this.fh = undefined;
      if (this.inlined) await this.inline!.rows.delete(this.key).catch(() => undefined);
      await fh?.close().catch(() => undefined);
      await fsp.unlink(this.tmpPath).catch(() => undefined);
      await fsp.unlink(this.finalPath).catch(() => undefined);
    })().then(
      () => cb(err),
      () => cb(err),
    );
  }
}
