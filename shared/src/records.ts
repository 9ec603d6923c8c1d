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
}

export interface SessionRecord {
  id: string;
  owner: string;
  ttl: number;
  createdAt: number;
  expiresAt: number;
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
}

/** What the storage service reports once a blob is durable. */
export interface StoredBlob {
  key: string;
  size: number;
  sha256: string;
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
}
