import { AppError, COMMANDS, type StoredBlob } from '@fileshare/shared';
import type { GatewayContext } from '../context.js';
import { uploadSha256 } from '../http/digest.js';
import { isMultipart, receiveMultipart } from '../http/multipart.js';
import { renderFile } from '../render.js';
import { id, route, type Route } from '../router.js';
import { MULTIPART_OVERHEAD } from './uploads.js';

/** PUT /sessions/:sid/files/:fid — the bytes of a file entry, raw or as a multipart `file` part. */
export function fileUploadRoutes(ctx: GatewayContext): Route[] {
  const { cfg, bus } = ctx;
  return [
    route({
      method: 'PUT',
      pattern: '/sessions/:sid/files/:fid',
      auth: 'basic',
      params: { sid: id('session_not_found'), fid: id('file_not_found') },
      async handler({ ex, user, params: { sid, fid } }) {
        const contentType = ex.req.headers['content-type'];
        const multipart = isMultipart(contentType);
        const length = ex.req.headers['content-length'] === undefined ? -1 : Number(ex.req.headers['content-length']);
        if (length > cfg['limits.maxFileSize'] + (multipart ? MULTIPART_OVERHEAD : 0)) throw new AppError('file_too_large');
        // Refuse before reading a byte when the answer is known already.
        const file = await bus.request(COMMANDS.fileGet, { owner: user, sessionId: sid, fileId: fid });
        if (file.state === 'ready') throw new AppError('file_already_uploaded');
        if (!multipart && length >= 0 && file.size !== null && length !== file.size) throw new AppError('size_mismatch');

        const sha256 = uploadSha256(ex, !multipart); // a malformed digest is refused before a byte is stored
        const release = ctx.uploadSlots.begin(user);
        try {
          const open = () => ctx.dataPlane.createBlob({ maxBytes: cfg['limits.maxFileSize'], ...(length >= 0 ? { expectedBytes: length } : {}) });
          let blob: StoredBlob;
          if (multipart) {
            if (!ex.body) throw new AppError('file_required');
            blob = await (await receiveMultipart(ex.body, contentType, open, ctx.multipartLimits)).writer.done;
          } else {
            const writer = open();
            if (ex.body) await ex.body.sendTo(writer);
            else writer.end();
            blob = await writer.done;
          }
          ex.json(200, renderFile(await bus.request(COMMANDS.fileCommit, { owner: user, sessionId: sid, fileId: fid, blob, ...(sha256 ? { sha256 } : {}) })));
        } finally {
          release();
        }
      },
    }),
  ];
}
