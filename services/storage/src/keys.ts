/**
 * The store's key scheme for everything storage owns, formatted and parsed here only. Other
 * services own other keys (the tokens service: `token:…`, `used:…`).
 *
 * A record's key doubles as its item in the expiry index (`upload:<id>` is both the upload record
 * and the entry that expires it); `blob:<key>` items are orphan guards over bytes no record points
 * at yet.
 */
export const EXPIRY_KINDS = ['upload', 'session', 'file', 'blob', 'resumable'] as const;
export type ExpiryKind = (typeof EXPIRY_KINDS)[number];

/** One entry of the expiry index: what to delete (`id` is a blob key for `blob`). */
export interface ExpiryItem {
  kind: ExpiryKind;
  id: string;
}

export const expiryItem = {
  format: (kind: ExpiryKind, id: string): string => `${kind}:${id}`,
  /** Null for text that is no item of ours (a newer version's kind, damage). */
  parse(item: string): ExpiryItem | null {
    const sep = item.indexOf(':');
    const kind = item.slice(0, sep) as ExpiryKind;
    return sep > 0 && EXPIRY_KINDS.includes(kind) ? { kind, id: item.slice(sep + 1) } : null;
  },
};

export const keys = {
  /** Records: the key is the record's own expiry item. */
  upload: (id: string) => expiryItem.format('upload', id),
  session: (id: string) => expiryItem.format('session', id),
  file: (id: string) => expiryItem.format('file', id),
  /** A resumable upload not yet complete. */
  resumable: (id: string) => expiryItem.format('resumable', id),
  /** An expired record's tombstone (410 instead of 404 for `expiry.tombstoneTtl`). */
  tomb: (kind: 'upload' | 'session', id: string) => `tomb:${kind}:${id}`,
  userSessions: (owner: string) => `user:${owner}:sessions`,
  sessionFiles: (sessionId: string) => `session:${sessionId}:files`,
  /** Claimed by the one commit that attaches bytes to a pending file. */
  commit: (fileId: string) => `commit:${fileId}`,
  /** Which file a committed blob belongs to (an orphan guard left by a crash sees it is not an orphan). */
  blobRef: (blobKey: string) => `blobref:${blobKey}`,
  /** The Locker's lease on one file's records. */
  fileLock: (fileId: string) => `lock:file:${fileId}`,
  /** Deliveries of an upload with a download limit (done, in flight), and the lock that guards them. */
  downloads: (uploadId: string) => `downloads:${uploadId}`,
  downloadsLock: (uploadId: string) => `lock:downloads:${uploadId}`,
  /** The one writer of a resumable upload. */
  resumableLock: (id: string) => `lock:resumable:${id}`,
};
