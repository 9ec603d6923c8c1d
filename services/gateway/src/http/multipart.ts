import busboy from 'busboy';
import { AppError, isAppError, isMediaType, isStorageFull, type BlobWriter, pump } from '@fileshare/shared';
import type { UwsBody } from './body.js';
import { cleanFileName } from './disposition.js';

export interface MultipartLimits {
  maxFields: number;
  maxFieldSize: number;
  maxNameLength: number;
}

export interface ReceivedForm<W extends BlobWriter> {
  /** The file part's writer: `pump` hands it the rest of the part and ends it; await its result. */
  writer: W;
  name: string;
  contentType: string;
  /** Text fields; a field sent twice keeps every value. */
  fields: Record<string, string[]>;
}

/** True for `multipart/form-data` (the boundary is checked by the parser). */
export const isMultipart = (contentType: string | undefined) => /^multipart\/form-data\s*(;|$)/i.test(contentType ?? '');

/**
 * Parse a multipart body as it arrives and stream its single `file` part into the writer `open`
 * makes when the part begins. Text fields may come before or after the file. Resolves once the
 * whole body is parsed, without waiting for the writer (an upload's writer waits for fields read
 * after the file: see `DataPlane.createUpload`); the caller awaits the writer's result. On a
 * failure while parsing the writer is destroyed and the promise rejects with the API error (400/413).
 */
export function receiveMultipart<W extends BlobWriter>(body: UwsBody, contentType: string, open: () => W, limits: MultipartLimits): Promise<ReceivedForm<W>> {
  return new Promise((resolve, reject) => {
    let bb: busboy.Busboy;
    try {
      bb = busboy({
        headers: { 'content-type': contentType },
        defParamCharset: 'utf8',
        limits: { files: 1, fields: limits.maxFields, parts: limits.maxFields + 1, fieldSize: limits.maxFieldSize, fieldNameSize: 200, headerPairs: 20 },
      });
    } catch {
      return reject(new AppError('malformed_multipart'));
    }
    let writer: W | undefined;
    let name = 'file';
    let type = 'application/octet-stream';
    const fields: Record<string, string[]> = {};
    let failed = false;

    const fail = (err: unknown) => {
      if (failed) return;
      failed = true;
      body.unpipe(bb);
      writer?.destroy();
      // The writer's own failures (a full disk, storage gone) are not the body's fault.
      reject((isAppError(err) && err.code !== 'internal') || isStorageFull(err) ? (err as Error) : new AppError('malformed_multipart'));
    };

    bb.on('file', (field, stream, info) => {
      if (field !== 'file' || failed) return void stream.resume();
      name = cleanFileName(info.filename, limits.maxNameLength);
      // A part's type that is not a media type (control bytes, no subtype) is not kept: it would
      // become a broken Content-Type header on every download.
      type = info.mimeType && isMediaType(info.mimeType) ? info.mimeType : 'application/octet-stream';
      writer = open();
      pump(stream, writer).catch(fail);
    });
    bb.on('field', (field, value, info) => {
      if (info.valueTruncated) return fail(new AppError('field_too_large'));
      if (field === 'file') return fail(new AppError('file_required')); // a "file" without a filename
      (fields[field] ??= []).push(value);
    });
    bb.on('filesLimit', () => fail(new AppError('too_many_files')));
    bb.on('fieldsLimit', () => fail(new AppError('too_many_fields')));
    bb.on('partsLimit', () => fail(new AppError('too_many_fields')));
    bb.on('error', fail);
    bb.on('close', () => {
      if (failed) return;
      if (!writer) return fail(new AppError('file_required'));
      resolve({ writer, name, contentType: type, fields });
    });
    pump(body, bb).catch(fail);
  });
}
