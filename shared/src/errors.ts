import type { Logger } from './logger.js';
import { metrics } from './metrics.js';

/**
 * Every error the API can answer with, in one table. Services throw `AppError(code)`;
 * the gateway's single error mapper turns it into `{"message", "code"}` with `status`.
 * Messages are lowercase and stable: clients and the handbook's log line depend on them.
 */
export const ERRORS = {
  authentication_required: { status: 401, message: 'authentication required' },
  invalid_credentials: { status: 401, message: 'invalid credentials' },
  too_many_failures: { status: 429, message: 'too many failed authentication attempts' },
  auth_busy: { status: 503, message: 'too many authentication checks in progress' },
  upload_not_found: { status: 404, message: 'upload not found' },
  upload_expired: { status: 410, message: 'upload expired' },
  upload_incomplete: { status: 409, message: 'upload incomplete' },
  offset_mismatch: { status: 409, message: 'upload offset mismatch' },
  upload_locked: { status: 409, message: 'another request is writing this upload' },
  offset_stream_required: { status: 415, message: 'application/offset+octet-stream required' },
  tus_version_unsupported: { status: 412, message: 'unsupported tus version' },
  invalid_upload_length: { status: 400, message: 'invalid upload length' },
  invalid_upload_offset: { status: 400, message: 'invalid upload offset' },
  invalid_upload_metadata: { status: 400, message: 'invalid upload metadata' },
  too_many_chunks: { status: 400, message: 'too many chunks; send larger ones' },
  checksum_mismatch: { status: 460, message: 'checksum mismatch' },
  checksum_unsupported: { status: 400, message: 'unsupported checksum algorithm' },
  invalid_concat: { status: 400, message: 'invalid upload-concat' },
  partial_upload_required: { status: 415, message: 'application/partial-upload required' },
  invalid_upload_complete: { status: 400, message: 'upload-complete must be ?0 or ?1' },
  interop_version_unsupported: { status: 412, message: 'unsupported upload-draft-interop-version' },
  session_not_found: { status: 404, message: 'session not found' },
  session_expired: { status: 410, message: 'session expired' },
  file_not_found: { status: 404, message: 'file not found' },
  file_already_uploaded: { status: 409, message: 'file already uploaded' },
  file_not_ready: { status: 409, message: 'file not uploaded yet' },
  size_mismatch: { status: 400, message: 'size mismatch' },
  token_not_found: { status: 404, message: 'token not found' },
  token_used: { status: 410, message: 'token already used' },
  token_expired: { status: 410, message: 'token expired' },
  token_in_use: { status: 409, message: 'token in use' },
  download_limit_reached: { status: 410, message: 'download limit reached' },
  download_in_use: { status: 409, message: 'every remaining download is in flight' },
  invalid_max_downloads: { status: 400, message: 'invalid max downloads' },
  digest_mismatch: { status: 400, message: 'digest mismatch' },
  file_required: { status: 400, message: 'file is required' },
  invalid_ttl: { status: 400, message: 'invalid ttl' },
  malformed_multipart: { status: 400, message: 'malformed multipart body' },
  too_many_files: { status: 400, message: 'exactly one file part is allowed' },
  too_many_fields: { status: 400, message: 'too many form fields' },
  field_too_large: { status: 400, message: 'form field too large' },
  file_too_large: { status: 413, message: 'file too large' },
  multipart_required: { status: 415, message: 'multipart/form-data required' },
  json_required: { status: 415, message: 'application/json required' },
  invalid_json: { status: 400, message: 'invalid json body' },
  invalid_field: { status: 400, message: 'invalid request body' },
  body_too_large: { status: 413, message: 'request body too large' },
  bad_request: { status: 400, message: 'bad request' },
  incomplete_body: { status: 400, message: 'request body incomplete' },
  range_not_satisfiable: { status: 416, message: 'range not satisfiable' },
  not_found: { status: 404, message: 'not found' },
  method_not_allowed: { status: 405, message: 'method not allowed' },
  uri_too_long: { status: 414, message: 'uri too long' },
  headers_too_large: { status: 431, message: 'request headers too large' },
  too_many_uploads: { status: 429, message: 'too many concurrent uploads' },
  unavailable: { status: 503, message: 'service unavailable' },
  insufficient_storage: { status: 507, message: 'insufficient storage' },
  internal: { status: 500, message: 'internal error' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Extra response headers (e.g. `Allow`, `Retry-After`, `WWW-Authenticate`). */
  readonly headers?: Record<string, string>;

  constructor(code: ErrorCode, message?: string, headers?: Record<string, string>) {
    super(message ?? ERRORS[code].message);
    this.name = 'AppError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.headers = headers;
  }

  /** The JSON body every error response carries. */
  toJSON(): { message: string; code: ErrorCode } {
    return { message: this.message, code: this.code };
  }
}

export function isAppError(err: unknown): err is AppError {
  return err instanceof AppError;
}

/** Rebuild an error that crossed a process boundary as (code, message). Unknown codes become `internal`. */
export function errorFromWire(code: string | undefined, message: string | undefined): AppError {
  if (code && code in ERRORS) return new AppError(code as ErrorCode, message || undefined);
  return new AppError('internal');
}

/** Error codes and names of a full disk, quota or store: fs writes (errno), SQLite, S3 servers. */
const STORAGE_FULL = new Set(['ENOSPC', 'EDQUOT', 'SQLITE_FULL', 'XMinioStorageFull', 'insufficient_storage']);

/**
 * Whether `err` (or its cause) says the storage is full: it is answered 507, never blamed on the
 * request (a multipart parser seeing its writer fail must not call the body malformed).
 */
export function isStorageFull(err: unknown, depth = 0): boolean {
  if (!err || typeof err !== 'object' || depth > 4) return false;
  const e = err as { code?: unknown; name?: unknown; $metadata?: { httpStatusCode?: number }; cause?: unknown };
  return STORAGE_FULL.has(String(e.code)) || STORAGE_FULL.has(String(e.name)) || e.$metadata?.httpStatusCode === 507 || isStorageFull(e.cause, depth + 1);
}

/**
 * The API error for anything thrown, for the places that answer errors (the gateway's error
 * mapper, storage's data plane, both buses' command replies): an AppError as it is (whoever made
 * it logged what needed logging); a full disk, quota or bucket as 507, logged at error level with
 * its cause (the operator must learn it from the log, not from users) and counted, once, where the
 * system error first meets one of these places; anything else a 500, logged with its stack.
 */
export function toAppError(err: unknown, log: Logger | undefined, context: Record<string, unknown> = {}): AppError {
  if (isAppError(err)) return err;
  if (isStorageFull(err)) {
    metrics.storageFull.inc();
    log?.error({ ...context, err }, 'storage full: a write was refused (507); free space or raise the quota');
    return new AppError('insufficient_storage');
  }
  log?.error({ ...context, err }, 'unhandled error');
  return new AppError('internal');
}
