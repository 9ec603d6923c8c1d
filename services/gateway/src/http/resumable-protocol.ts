import { AppError, isAppError, isMediaType, mediaTypeOf, type ResumableState } from '@fileshare/shared';
import type { Exchange } from './exchange.js';
import { checkInterop, checkPartialUpload, ietfStateHeaders, INTEROP_VERSION, isIetf, uploadComplete } from './ietf-upload.js';
import { byteCount, checkOffsetStream, checkVersion, isTus, stateHeaders, TUS_VERSION } from './tus.js';

/**
 * The two resumable-upload protocols served on the same URLs and records: tus 1.0 (http/tus.ts)
 * and the IETF draft, interop version 6 (http/ietf-upload.ts). A request says which it speaks by
 * its headers (`Tus-Resumable` or `Upload-Draft-Interop-Version`); the routes (routes/resumable.ts)
 * ask this interface what differs and do the rest once.
 */
export interface ResumableProtocol {
  /** 412 when the request speaks another version of the protocol. */
  checkVersion(ex: Exchange): void;
  /** The media type of an appended chunk (tus `application/offset+octet-stream`, IETF `application/partial-upload`), or 415. */
  checkChunkType(ex: Exchange): void;
  /** A creation request's body: tus creation-with-upload is a chunk (its type checked); an IETF one is the representation (any type). */
  checkCreationBody(ex: Exchange): void;
  /**
   * What a creation says of the upload's end: the declared length (null: not known yet) and whether
   * its own body is all there is (IETF `Upload-Complete: ?1`).
   */
  creation(ex: Exchange): { length: number | null; complete: boolean };
  /** The media type of a creation's body when its metadata names none (IETF: the representation's `Content-Type`). */
  bodyType(ex: Exchange): string | undefined;
  /** Whether an append's body ends the upload (IETF `Upload-Complete`, required there); tus: never. */
  appendCompletes(ex: Exchange): boolean;
  /** The headers that describe where an upload stands. */
  stateHeaders(s: ResumableState): Record<string, string>;
  /** The header every answer carries, errors too. */
  readonly marker: Record<string, string>;
}

export const TUS: ResumableProtocol = {
  checkVersion,
  checkChunkType: checkOffsetStream,
  checkCreationBody: checkOffsetStream,
  creation(ex) {
    const h = ex.req.headers;
    const length = byteCount(h['upload-length'], 'invalid_upload_length');
    const deferred = h['upload-defer-length'];
    if ((length === undefined) === (deferred === undefined) || (deferred !== undefined && deferred !== '1'))
      throw new AppError('invalid_upload_length', 'give upload-length, or upload-defer-length: 1');
    return { length: length ?? null, complete: false };
  },
  bodyType: () => undefined,
  appendCompletes: () => false,
  stateHeaders,
  marker: { 'Tus-Resumable': TUS_VERSION },
};

export const IETF: ResumableProtocol = {
  checkVersion: checkInterop,
  checkChunkType: checkPartialUpload,
  checkCreationBody: () => undefined,
  creation(ex) {
    const complete = uploadComplete(ex);
    if (complete === undefined) throw new AppError('invalid_upload_complete', 'upload-complete is required');
    return { length: byteCount(ex.req.headers['upload-length'], 'invalid_upload_length') ?? null, complete };
  },
  bodyType(ex) {
    const type = mediaTypeOf(ex.req.headers['content-type']);
    return ex.body && type && type.length <= 255 && isMediaType(type) ? type : undefined;
  },
  appendCompletes(ex) {
    const complete = uploadComplete(ex);
    if (complete === undefined) throw new AppError('invalid_upload_complete', 'upload-complete is required');
    return complete;
  },
  stateHeaders: ietfStateHeaders,
  marker: { 'Upload-Draft-Interop-Version': INTEROP_VERSION },
};

/** The protocol a request speaks, by its headers; undefined for plain HTTP. */
export function protocolOf(ex: Exchange): ResumableProtocol | undefined {
  if (isTus(ex)) return TUS;
  if (isIetf(ex)) return IETF;
  return undefined;
}

/** A HEAD that asks where a resumable upload stands (it speaks tus or the IETF draft): its owner's question. */
export const resumableHead = (ex: Exchange): ResumableProtocol | undefined => (ex.req.method === 'HEAD' ? protocolOf(ex) : undefined);

/** Runs a resumable-upload handler; its errors carry the protocol's header too, as every answer does. */
export async function answer(p: ResumableProtocol, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    if (!isAppError(err)) throw err;
    throw new AppError(err.code, err.message, { ...err.headers, ...p.marker });
  }
}
