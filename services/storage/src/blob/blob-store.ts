import type { Readable } from 'node:stream';
import type { BlobSink, BlobWriter, ByteRange, CreateBlobOptions, GrowingBlobWriter, StoredBlob } from '@fileshare/shared';

/** Defined with the writers (shared/src/blobfs): a gateway on the shared volume writes blobs and appends too. */
export type { CreateBlobOptions, GrowingBlobWriter } from '@fileshare/shared';

/**
 * Where file bytes live (the core every backend has; optional capabilities below). Blobs are immutable: written once under a fresh key, read many times,
 * deleted once. Implementations: `FsBlobStore` (default), `S3BlobStore`.
 * The contract suite `test/contracts/blob-store.contract.ts` runs against each.
 */
export interface BlobStore {
  /**
   * A writer for a new blob under `key` (a fresh UUID). `done` resolves with size and sha256
   * once durable (or with `pending`: see `deferSmall`); until then the blob is invisible to
   * `open`. Destroying the writer, an error or exceeding `maxBytes` leaves nothing behind.
   */
  create(key: string, opts: CreateBlobOptions): BlobWriter;
  /** Stream the blob (or an inclusive range of it). Rejects `AppError('not_found')` when absent. */
  open(key: string, range?: ByteRange): Promise<Readable>;
  /** Remove the blob; succeeds when it is already gone (idempotent). Returns bytes freed when known. */
  delete(key: string): Promise<number>;
  /** Rejects when the backend is not usable (for /readyz). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Capability: a range handed to `sink` as views of one reused read buffer (see BlobSink), with no
 * allocation per chunk. Rejects `not_found` before `sink.start` when the blob is absent. A store
 * without it is read through `open` (a stream, one allocation per chunk). Has it: FsBlobStore.
 */
export interface RangeSender {
  sendRange(key: string, range: ByteRange, sink: BlobSink): Promise<void>;
}

export function sendsRanges(store: BlobStore): store is BlobStore & RangeSender {
  return typeof (store as Partial<RangeSender>).sendRange === 'function';
}

/**
 * Capability: a blob grown in place by appends (a resumable upload's bytes), sealed into an
 * ordinary blob at the end — no copy. Until sealed it is invisible to `open`. `append(key, at)`
 * first cuts the growing blob back to `at` (the bytes of an append that failed after writing, never
 * acknowledged), then appends; `done` once the bytes are durable (fdatasync). `seal(key, length)`
 * makes the first `length` bytes the blob `key` (durably; idempotent), with the given sha256 or
 * one computed by reading it once. `delete(key)` removes a growing blob too. Has it: FsBlobStore.
 */
export interface Appendable {
  append(key: string, at: number, opts: CreateBlobOptions): GrowingBlobWriter;
  seal(key: string, length: number, sha256?: string): Promise<StoredBlob>;
}

export function appends(store: BlobStore): store is BlobStore & Appendable {
  return typeof (store as Partial<Appendable>).seal === 'function';
}

/**
 * Capability: a small blob given whole, left to the record the caller writes next — its bytes
 * join that record's transaction (StoredBlob.pending), as `deferSmall` does for a blob written
 * through a writer. Returns undefined when this store cannot (too large, or small blobs do not
 * share the record store's file): write it through `create` then. Has it: FsBlobStore.
 */
export interface DefersWhole {
  deferWhole(key: string, bytes: Buffer): StoredBlob | undefined;
}

export function defersWhole(store: BlobStore): store is BlobStore & DefersWhole {
  return typeof (store as Partial<DefersWhole>).deferWhole === 'function';
}

/**
 * Capability: blobs written by a gateway that shares the store's volume (`blob.fs.gatewayWrites`):
 * it writes `tmp/<key>.part` and renames it to the blob's place itself, exactly as the store's own
 * writer does, and storage records it. Has it: FsBlobStore.
 */
export interface SharesVolume {
  /** Whether `tmp/<name>` and `blobs/<name>` hold `token` here: a gateway's check that its data directory is this one. */
  seesProbe(name: string, token: string): Promise<boolean>;
  /** The size of the finished blob file `key`; undefined when there is none. */
  placedSize(key: string): Promise<number | undefined>;
  /** The size of the growing blob `key` (a resumable upload's bytes so far, acknowledged or not); undefined when there is none. */
  grownSize(key: string): Promise<number | undefined>;
}

export function sharesVolume(store: BlobStore): store is BlobStore & SharesVolume {
  return typeof (store as Partial<SharesVolume>).placedSize === 'function';
}
