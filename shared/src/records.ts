/**
 * Records kept by the storage service, and the shapes that cross the bus.
 * Times inside records are epoch milliseconds; the gateway renders ISO-8601.
 */

export interface UploadRecord {
  id: string;
  owner: string;
  name: string;
  contentType: string;
  size: number;
  sha256: string;
  /** Blob key in the blob backend. */
  blob: string;
  ttl: number;
  createdAt: number;
  expiresAt: number;
  /** Complete deliveries allowed (unset: as many as wanted). Counted in storage (download-limits.ts). */
  maxDownloads?: number;
}

export interface SessionRecord {
  id: string;
  owner: string;
  ttl: number;
  createdAt: number;
  expiresAt: number;
}

/**
 * A resumable upload not yet complete (tus, IETF resumable uploads): its fields, the bytes received
 * so far as chunk blobs in order, and when it expires if nobody finishes it. Once `offset` equals
 * `length` it becomes an UploadRecord of the same id (its TTL counted from completion).
 */
export interface ResumableRecord {
  id: string;
  owner: string;
  name: string;
  contentType: string;
  /** Seconds the finished upload lives. */
  ttl: number;
  /** The finished upload's download limit. */
  maxDownloads?: number;
  /** Total bytes; null until declared (creation-defer-length). */
  length: number | null;
  /** Bytes durable so far. */
  offset: number;
  /** Blob keys of the chunks received, in order; their sizes add up to `offset` (unless `appendKey`). */
  chunks: string[];
  /**
   * On a store that grows blobs in place (fs): the key of the one growing blob that holds the
   * bytes, instead of a chunk list; sealed as the upload's blob at completion.
   */
  appendKey?: string;
  createdAt: number;
  /** When the incomplete upload is deleted (`models.upload.incompleteTtl` after creation). */
  expiresAt: number;
  /**
   * A part of a concatenated upload (tus `Upload-Concat: partial`): complete, it waits for a final
   * upload to take its chunks, and is never an upload of its own.
   */
  partial?: boolean;
  /** The upload's bytes are a session file's (its id is the file's): completion makes the file ready. */
  sessionId?: string;
}

/** What a client is told about a resumable upload. `complete`: it is an ordinary upload (or ready file) now. */
export interface ResumableState {
  id: string;
  offset: number;
  length: number | null;
  expiresAt: number;
  complete: boolean;
  /** A part of a concatenated upload. */
  partial?: boolean;
}

export type FileState = 'pending' | 'ready';

export interface FileRecord {
  id: string;
  sessionId: string;
  owner: string;
  name: string;
  contentType: string;
  /** Declared size while pending (or null), actual size once ready. */
  size: number | null;
  state: FileState;
  sha256: string | null;
  blob: string | null;
  createdAt: number;
  /** The session's expiresAt. */
  expiresAt: number;
  /** When the bytes were stored (ready files only). */
  storedAt?: number;
}

export interface TokenRecord {
  id: string;
  sessionId: string;
  fileId: string;
  owner: string;
  createdAt: number;
  expiresAt: number;
  /** A delivery of it was cut or partial: its attempts and coverage are in a record of their own. */
  pieces?: boolean;
}

/** What the storage service reports once a blob is durable. */
export interface StoredBlob {
  key: string;
  size: number;
  sha256: string;
  /**
   * Set only when the writer was asked to leave a small blob to its caller (`deferSmall`, all-in-one):
   * the bytes are not written yet. Calling it queues them in the same SQLite transaction as the
   * caller's record writes issued in the same turn (one file holds both), durable with them.
   */
  pending?: () => Promise<void>;
}

/**
 * A simple upload's record fields besides its bytes, sent with them on the data plane
 * (`DataPlane.createUpload`). Known only once the whole form is read: a ttl field may follow the file.
 */
export interface UploadMeta {
  owner: string;
  name: string;
  contentType: string;
  ttl: number;
  maxDownloads?: number;
  /** The file's sha256 (hex) as the client announced it (Repr-Digest): bytes that differ are refused before a record is written. */
  sha256?: string;
}
