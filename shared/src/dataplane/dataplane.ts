import type { Writable } from 'node:stream';
import type { ResumableState, StoredBlob, UploadMeta, UploadRecord } from '../records.js';

/** Inclusive byte range, as in HTTP `Range: bytes=start-end`. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * A new blob being written. Write chunks (honour `write()` returning false: wait for 'drain'),
 * then `end()`; `done` resolves once the bytes are durable (fsynced and renamed / S3 upload
 * completed) with their size and sha256. `destroy(err)` aborts: nothing written is kept.
 * `done` rejects with `file_too_large` once more than `maxBytes` arrive. Every failure is
 * reported through `done` (the writer never crashes a process with an unheard 'error').
 *
 * A chunk is lent, not given: once its write callback ran without an error the writer holds no
 * reference to it (the bytes were written on, or copied), so the caller may refill that buffer.
 * The gateway relies on this to receive uploads into a few reused buffers (`UwsBody.sendTo`).
 */
export interface BlobWriter extends Writable {
  readonly done: Promise<StoredBlob>;
}

/**
 * A blob that becomes a simple upload in the same exchange with storage (no bus round trip):
 * once its bytes are durable and `meta` has resolved, storage writes the record, and `record`
 * resolves with it. `done` is the stored blob, as for any BlobWriter. Bytes whose record is never
 * written are discarded: `meta` rejecting (the form turned out invalid), the record failing, or
 * the writer destroyed.
 */
export interface UploadWriter extends BlobWriter {
  readonly record: Promise<UploadRecord>;
}

/** Where a chunk of a resumable upload goes (`DataPlane.appendUpload`). */
export interface AppendOptions {
  id: string;
  /** Only the upload's owner may append. */
  owner: string;
  /** Where the client says the chunk starts: the upload's offset, or `offset_mismatch`. */
  offset: number;
  /** The total size, when the client declares it with this chunk (creation-defer-length). */
  length?: number;
  /** Bytes beyond the declared length, or beyond this for an undeclared one: `file_too_large`. */
  maxBytes: number;
  /** The chunk's digest as the client computed it (tus checksum): a mismatch keeps nothing (`checksum_mismatch`). */
  checksum?: ChunkChecksum;
  /** The upload ends with this chunk (IETF `Upload-Complete: ?1`): its length is where the chunk ends. */
  complete?: boolean;
  /** A session file's upload (`id` is the file's): the first chunk starts it, completion makes the file ready. */
  sessionId?: string;
  /** The chunk's declared length (Content-Length), when known: a hint for where the bytes go (SharedVolume). */
  expectedBytes?: number;
}

export const CHECKSUM_ALGORITHMS = ['sha1', 'sha256'] as const;
export interface ChunkChecksum {
  algorithm: (typeof CHECKSUM_ALGORITHMS)[number];
  /** Standard base64 of the digest. */
  digest: string;
}

/**
 * A chunk of a resumable upload being written. `state` resolves once the chunk is durable and the
 * upload's offset advanced (and, when it was the last, the upload recorded): the new state. Any
 * failure (wrong offset, another writer, cut body) keeps nothing of the chunk.
 */
export interface AppendWriter extends Writable {
  readonly state: Promise<ResumableState>;
}

/** Controls a running `sendBlob` transfer. */
export interface BlobTransfer {
  /** The sink sent the view it kept (after `write` returned false): read on. */
  resume(): void;
  /** The client went away: stop and drop the connection. */
  cancel(): void;
}

/**
 * Receives a blob's bytes as views into the data plane's own read buffer (no copy, no
 * allocation per chunk). A view is valid only until `write` returns true; when `write` returns
 * false, reading stops and the view stays valid until the sink calls `transfer.resume()`.
 */
export interface BlobSink {
  /** The blob exists and its bytes follow; called once, before the first `write`. */
  start(transfer: BlobTransfer): void;
  write(view: Buffer): boolean;
  /** Every byte of the range was delivered (the last view may still be pending). */
  end(): void;
  /** The transfer broke after `start`. */
  fail(err: Error): void;
}

/**
 * How the gateway moves bytes to and from the storage service. All-in-one: storage's own
 * object, streams in-process. Distributed: `HttpDataPlane`, an internal HTTP/1.1 keep-alive
 * connection to a storage replica. Bytes never travel over the bus.
 */
export interface DataPlane {
  /**
   * Start a new blob; the key is chosen by the data plane and reported in `done`. `expectedBytes`:
   * the body's declared length when known, a hint for where the bytes go (SharedVolume).
   */
  createBlob(opts: { maxBytes: number; expectedBytes?: number }): BlobWriter;
  /**
   * `POST /uploads`: the blob and its record in one step. `meta` may resolve after the last byte
   * was written (the writer then waits for it before it finishes): settle it, or destroy the writer.
   */
  createUpload(opts: { maxBytes: number; meta: Promise<UploadMeta>; expectedBytes?: number }): UploadWriter;
  /**
   * `POST /uploads` of a small form read whole: the bytes are all in hand and so are the record's
   * fields. Resolves with the record once bytes and record are durable; fails as `createUpload`
   * would (`file_too_large` past `maxBytes`, `digest_mismatch`), keeping nothing.
   */
  storeUpload(opts: { bytes: Buffer; maxBytes: number; meta: UploadMeta }): Promise<UploadRecord>;
  /**
   * Downloads: the range's bytes go to `sink` as views of the data plane's own read buffer (the
   * socket's, in distributed mode; the file read's, in-process). Resolves once `sink.start` ran;
   * rejects before it (`not_found`, 503) otherwise.
   */
  sendBlob(key: string, range: ByteRange, sink: BlobSink): Promise<void>;
  /** A chunk of a resumable upload (PATCH): durable before `state` resolves; see AppendWriter. */
  appendUpload(opts: AppendOptions): AppendWriter;
  ping(): Promise<void>;
}

/** `storeUpload` through `createUpload`: the bytes as one write, the fields known from the start. */
export function storeThroughWriter(plane: Pick<DataPlane, 'createUpload'>, opts: { bytes: Buffer; maxBytes: number; meta: UploadMeta }): Promise<UploadRecord> {
  const w = plane.createUpload({ maxBytes: opts.maxBytes, meta: Promise.resolve(opts.meta) });
  w.end(opts.bytes);
  return w.record;
}
