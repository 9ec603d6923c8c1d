import { createHash, type Hash } from 'node:crypto';
import { Writable } from 'node:stream';
import { AppError } from '../errors.js';
import { deferred } from '../deferred.js';
import type { BlobWriter } from '../dataplane/dataplane.js';
import type { StoredBlob } from '../records.js';

export interface CreateBlobOptions {
  /** Bytes beyond this fail the writer with `file_too_large` (and nothing is kept). */
  maxBytes: number;
  /** Awaited before the first byte is written (the orphan guard is taken here). */
  onStart?: () => Promise<void>;
  /**
   * The caller writes a record pointing at the blob next and can take a small blob's bytes into
   * that record's transaction: a store whose small blobs share the record store's SQLite file
   * (FsBlobStore with `inlineFile`) then writes nothing for a blob that ends small — no guard, no
   * row — and `done` resolves with `pending` set (StoredBlob). Other stores ignore it.
   */
  deferSmall?: boolean;
  /**
   * The blob's sha256 (hex) as its sender computed it over the bytes it sent (the gateway, in
   * distributed mode: it hashes while receiving, so that storage's process, the busier of the two
   * on a large upload, does not). Read once every byte arrived; the writer then hashes nothing.
   * Anything but 64 hex digits fails the write (`bad_request`) before the bytes become durable.
   */
  sha256?: () => string | undefined;
}

/** Writers open in this process. */
let writing = 0;
/** What all writers may buffer together, split evenly (within 128 KiB-1 MiB each). */
const BUFFER_BUDGET = 16 * 1024 * 1024;

/**
 * A writer's high-water mark. `pump` keeps up to twice that in flight, so hashing and writing
 * overlap with receiving: 1 MiB took a distributed 900 MB upload from 340-414 to 400-508 MB/s
 * (512 KiB before); split across 100 concurrent uploads it holds storage's RSS where 512 KiB
 * each had it (~280 MB; 1 MiB each: 388 MB).
 */
function bufferFor(writers: number): number {
  return Math.max(128 * 1024, Math.min(1024 * 1024, Math.floor(BUFFER_BUDGET / writers)));
}

/**
 * What every backend's writer shares: sha256 (unless the sender gives it) and size computed while streaming, the
 * `maxBytes` limit, and `done`, which resolves once the subclass calls `commit()` (bytes
 * durable) and rejects on any failure. Subclasses write the bytes and clean up in `_destroy`
 * unless `committed`.
 */
export abstract class HashingBlobWriter extends Writable implements BlobWriter {
  private readonly settle = deferred<StoredBlob>({ unhandled: 'ignore' });
  readonly done = this.settle.promise;
  /** Null when the sender gives the digest (CreateBlobOptions.sha256). */
  private readonly hash: Hash | null;
  private size = 0;
  private sha256 = '';
  protected committed = false;

  constructor(
    protected readonly key: string,
    protected readonly opts: CreateBlobOptions,
  ) {
    super({ highWaterMark: bufferFor(writing + 1) });
    this.hash = opts.sha256 ? null : createHash('sha256');
    writing++;
    this.once('close', () => writing--);
    // Failures are reported through `done`; an unheard 'error' event must not crash the process.
    this.on('error', () => undefined);
  }

  /** Counts and hashes chunks about to be written; `file_too_large` past `maxBytes`. */
  protected account(chunks: Buffer[]): AppError | null {
    for (const c of chunks) this.size += c.length;
    if (this.size > this.opts.maxBytes) return new AppError('file_too_large');
    if (this.hash) for (const c of chunks) this.hash.update(c);
    return null;
  }

  /**
   * The blob's sha256, once every byte arrived: computed here, or the sender's. Subclasses call it
   * first in `_final`, before anything becomes durable: a sender's digest that is no sha256 throws
   * `bad_request` there, and the write fails with nothing kept.
   */
  protected finishDigest(): void {
    if (this.hash) return void (this.sha256 = this.hash.digest('hex'));
    const given = this.opts.sha256!();
    if (!given || !/^[0-9a-f]{64}$/.test(given)) throw new AppError('bad_request', 'missing or malformed sha256 of the blob');
    this.sha256 = given;
  }

  /** The bytes are durable (or, given `pending`, left to the caller: StoredBlob.pending): resolve `done`. */
  protected commit(pending?: () => Promise<void>): void {
    this.committed = true;
    this.settle.resolve({ key: this.key, size: this.size, sha256: this.sha256, ...(pending ? { pending } : {}) });
  }

  /** Not committed: reject `done` (the subclass removes what it wrote). */
  protected failed(err: Error | null): void {
    this.settle.reject(err ?? new AppError('incomplete_body'));
  }
}
