import type { FileRecord, ResumableState, SessionRecord, TokenRecord, UploadRecord } from '@fileshare/shared';

/** API representations (API.md): ISO-8601 UTC times, no internal fields (owner, blob key). */
const iso = (ms: number) => new Date(ms).toISOString();

export const renderUpload = (u: UploadRecord, url: string) => ({
  id: u.id,
  name: u.name,
  size: u.size,
  contentType: u.contentType,
  sha256: u.sha256,
  ttl: u.ttl,
  downloads: 0,
  maxDownloads: u.maxDownloads ?? null,
  createdAt: iso(u.createdAt),
  expiresAt: iso(u.expiresAt),
  url,
});

export const renderSession = (s: SessionRecord) => ({ id: s.id, ttl: s.ttl, createdAt: iso(s.createdAt), expiresAt: iso(s.expiresAt) });

export const renderFile = (f: FileRecord) => ({
  id: f.id,
  sessionId: f.sessionId,
  name: f.name,
  contentType: f.contentType,
  size: f.size,
  state: f.state,
  sha256: f.sha256,
  createdAt: iso(f.createdAt),
  expiresAt: iso(f.expiresAt),
});

export const renderToken = (t: TokenRecord, url: string) => ({ id: t.id, url, expiresAt: iso(t.expiresAt) });

/** A resumable upload as created (tus `POST /uploads`): where it stands; `url` is its upload URL and, once complete, its download link. */
export const renderResumable = (s: ResumableState, url: string) => ({
  id: s.id,
  offset: s.offset,
  length: s.length,
  complete: s.complete,
  expiresAt: iso(s.expiresAt),
  url,
});
