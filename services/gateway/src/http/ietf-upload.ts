import { AppError, mediaTypeOf, type ResumableState } from '@fileshare/shared';
import type { Exchange } from './exchange.js';

/**
 * The IETF "Resumable Uploads for HTTP" draft as interop version 6 (draft-ietf-httpbis-resumable-
 * upload-05; what tus-js-client's `protocol: 'ietf-draft-05'` and Apple's URLSession speak): the
 * headers a request says, checked, and what a response says. No 104 interim response: the uWS
 * build cannot send one; it is optional, and the final 201 carries `Location`.
 */
export const INTEROP_VERSION = '6';
export const PARTIAL_UPLOAD = 'application/partial-upload';

/** An IETF request: it carries Upload-Draft-Interop-Version (a wrong one is refused by `checkInterop`). */
export const isIetf = (ex: Exchange): boolean => ex.req.headers['upload-draft-interop-version'] !== undefined;

/** 412 for an interop version other than 6. */
export function checkInterop(ex: Exchange): void {
  if (ex.req.headers['upload-draft-interop-version'] !== INTEROP_VERSION) throw new AppError('interop_version_unsupported');
}

/** `Upload-Complete` (a structured-field boolean): true, false, or undefined when absent; else 400. */
export function uploadComplete(ex: Exchange): boolean | undefined {
  const v = ex.req.headers['upload-complete'];
  if (v === undefined) return undefined;
  if (v === '?1') return true;
  if (v === '?0') return false;
  throw new AppError('invalid_upload_complete');
}

/** An append's body is `application/partial-upload`, or 415. */
export function checkPartialUpload(ex: Exchange): void {
  if (mediaTypeOf(ex.req.headers['content-type']) !== PARTIAL_UPLOAD) throw new AppError('partial_upload_required');
}

/** The headers every IETF answer about an upload carries. */
export function ietfStateHeaders(s: ResumableState): Record<string, string> {
  const complete = s.complete || (s.length !== null && s.offset === s.length);
  const h: Record<string, string> = {
    'Upload-Draft-Interop-Version': INTEROP_VERSION,
    'Upload-Offset': String(s.offset),
    'Upload-Complete': complete ? '?1' : '?0',
    'Cache-Control': 'no-store',
  };
  if (s.length !== null) h['Upload-Length'] = String(s.length);
  return h;
}
