import { AppError, CHECKSUM_ALGORITHMS, isMediaType, mediaTypeOf, parseChecksum, type ChunkChecksum, type ResumableState } from '@fileshare/shared';
import { cleanFileName } from './disposition.js';
import type { Exchange } from './exchange.js';

/**
 * The tus 1.0 protocol's headers (https://tus.io/protocols/resumable-upload): what a request
 * says, checked; what a response says. The routes are in routes/resumable.ts.
 */
export const TUS_VERSION = '1.0.0';
/** What OPTIONS advertises: exactly what is served. */
export const TUS_EXTENSIONS = 'creation,creation-with-upload,creation-defer-length,termination,expiration,checksum,concatenation';
export const TUS_CHECKSUMS = CHECKSUM_ALGORITHMS.join(',');
export const OFFSET_STREAM = 'application/offset+octet-stream';

/** A tus request: it carries Tus-Resumable (any value; a wrong one is refused by `checkVersion`). */
export const isTus = (ex: Exchange): boolean => ex.req.headers['tus-resumable'] !== undefined;

/** 412 with the versions served when the client speaks another. */
export function checkVersion(ex: Exchange): void {
  if (ex.req.headers['tus-resumable'] !== TUS_VERSION) throw new AppError('tus_version_unsupported', undefined, { 'Tus-Version': TUS_VERSION });
}

/** A byte count header: digits only, within 15 of them (a JS-safe integer); otherwise the given 400. */
export function byteCount(value: string | undefined, code: 'invalid_upload_length' | 'invalid_upload_offset'): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,15}$/.test(value)) throw new AppError(code);
  return Number(value);
}

/** `Upload-Checksum: <sha1|sha256> <base64>`, when given; another algorithm is 400 `unsupported checksum algorithm`. */
export function uploadChecksum(ex: Exchange): ChunkChecksum | undefined {
  const value = ex.req.headers['upload-checksum'];
  return value === undefined ? undefined : parseChecksum(value);
}

/** A PATCH body (and a creation-with-upload one) is `application/offset+octet-stream`, or 415. */
export function checkOffsetStream(ex: Exchange): void {
  if (mediaTypeOf(ex.req.headers['content-type']) !== OFFSET_STREAM) throw new AppError('offset_stream_required');
}

export interface UploadMetadata {
  name: string;
  /** `filetype`, when given. */
  contentType?: string;
  /** The `ttl` value as sent (digits are checked by the caller's ttl rule). */
  ttl?: string;
  /** The `maxDownloads` value as sent (checked by the caller). */
  maxDownloads?: string;
}

/**
 * `Upload-Metadata`: comma-separated `key base64value` pairs (a key alone is allowed). Keys are
 * ASCII without spaces or commas and appear once; values are standard base64. `filename` (made
 * safe as any file name), `filetype` (a media type) and `ttl` are read; other keys are ignored.
 */
export function parseMetadata(header: string | undefined, maxNameLength: number): UploadMetadata {
  const pairs = new Map<string, string>();
  for (const part of (header ?? '').split(',')) {
    const item = part.trim();
    if (item === '') continue;
    const [key, value, extra] = item.split(' ');
    if (extra !== undefined || !/^[\x21-\x7e]+$/.test(key) || pairs.has(key)) throw new AppError('invalid_upload_metadata');
    if (value !== undefined && !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) throw new AppError('invalid_upload_metadata');
    pairs.set(key, value === undefined ? '' : Buffer.from(value, 'base64').toString('utf8'));
  }
  const type = pairs.get('filetype');
  if (type !== undefined && type !== '' && (type.length > 255 || !isMediaType(type))) throw new AppError('invalid_upload_metadata', 'invalid filetype');
  return {
    name: cleanFileName(pairs.get('filename') || 'upload', maxNameLength),
    contentType: type || undefined,
    ttl: pairs.get('ttl'),
    maxDownloads: pairs.get('maxDownloads'),
  };
}

/** The headers every answer about a resumable upload carries. */
export function stateHeaders(s: ResumableState): Record<string, string> {
  const h: Record<string, string> = { 'Tus-Resumable': TUS_VERSION, 'Upload-Offset': String(s.offset), 'Cache-Control': 'no-store' };
  if (s.length === null) h['Upload-Defer-Length'] = '1';
  else h['Upload-Length'] = String(s.length);
  if (!s.complete) h['Upload-Expires'] = new Date(s.expiresAt).toUTCString();
  if (s.partial) h['Upload-Concat'] = 'partial';
  return h;
}
