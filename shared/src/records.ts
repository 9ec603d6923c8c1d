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

// ---- command payloads (gateway/tokens/expiry -> storage, gateway -> tokens) ----

/** `storage.upload.create` (older gateways): the record for a blob stored before. */
export interface UploadCreate extends UploadMeta {
  blob: StoredBlob;
}
export interface OwnedId {
  owner: string;
  id: string;
}
export interface SessionCreate {
  owner: string;
  ttl: number;
}
export interface FileCreate {
  owner: string;
  sessionId: string;
  name: string;
  contentType: string;
  size: number | null;
}
export interface FileRef {
  /** Omitted for internal lookups (tokens service): no ownership check. */
  owner?: string;
  sessionId: string;
  fileId: string;
}
export interface FileCommit extends FileRef {
  blob: StoredBlob;
}
export interface ExpireItem {
  /** An expiry-index item: `upload:<id>`, `session:<id>`, `file:<id>` or `blob:<key>`. */
  item: string;
}
export interface TokenIssue extends FileRef {
  owner: string;
  /** Seconds; capped at the session's expiry. */
  ttl: number;
}
export interface TokenRef {
  tokenId: string;
  sessionId: string;
  fileId: string;
}
/** What consuming (or peeking at) a token yields: the file to stream. */
export interface TokenGrant {
  file: FileRecord;
}
