import busboy from 'busboy';
import { AppError, isAppError, type BlobWriter, type DataPlane, type StoredBlob, pump } from '@fileshare/shared';
import type { UwsBody } from './body.js';
import { cleanFileName } from './disposition.js';

export interface MultipartLimits {
  maxFileSize: number;
  maxFields: number;
  maxFieldSize: number;
  maxNameLength: number;
}

export interface ReceivedFile {
  blob: StoredBlob;
  name: string;
  contentType: string;
  /** Text fields; a field sent twice keeps every value. */
  fields: Record<string, string[]>;
}

/** True for `multipart/form-data` (the boundary is checked by the parser). */
export const isMultipart = (contentType: string | undefined) => /^multipart\/form-data\s*(;|$)/i.test(contentType ?? '');

/**
 * Parse a multipart body as it arrives and stream its single `file` part into a new blob.
 * Text fields may come before or after the file. Resolves once the bytes are durable; on any
 * failure the blob is discarded and the promise rejects with the API error (400/413).
 */
export function receiveMultipart(body: UwsBody, contentType: string, dataPlane: DataPlane, limits: MultipartLimits): Promise<ReceivedFile> {
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
    let writer: BlobWriter | undefined;
    let name = 'file';
    let type = 'application/octet-stream';
    const fields: Record<string, string[]> = {};
    let failed = false;

    const fail = (err: unknown) => {
      if (failed) return;
      failed = true;
      body.unpipe(bb);
      writer?.destroy();
      reject(isAppError(err) && err.code !== 'internal' ? err : new AppError('malformed_multipart'));
    };

    bb.on('file', (field, stream, info) => {
      if (field !== 'file' || failed) return void stream.resume();
      name = cleanFileName(info.filename, limits.maxNameLength);
      type = info.mimeType || 'application/octet-stream';
      writer = dataPlane.createBlob({ maxBytes: limits.maxFileSize });
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
      writer.done.then((blob) => resolve({ blob, name, contentType: type, fields }), fail);
    });
    pump(body, bb).catch(fail);
  });
}
