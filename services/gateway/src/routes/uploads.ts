import { AppError, COMMANDS, type UploadMeta, type UploadRecord } from '@fileshare/shared';
import type { GatewayContext } from '../context.js';
import { isMultipart, receiveMultipart } from '../http/multipart.js';
import { renderUpload } from '../render.js';
import type { Route } from '../router.js';

/** Multipart framing allowed on top of limits.maxFileSize before a Content-Length is refused. */
export const MULTIPART_OVERHEAD = 64 * 1024;

/** Simple identification: POST /uploads, GET|HEAD /uploads/:id, DELETE /uploads/:id. */
export function uploadRoutes(ctx: GatewayContext): Route[] {
  const { cfg, bus } = ctx;
  return [
    {
      method: 'POST',
      pattern: '/uploads',
      async handler(ex) {
        const contentType = ex.req.headers['content-type'];
        if (!isMultipart(contentType)) throw new AppError('multipart_required');
        const length = Number(ex.req.headers['content-length'] ?? -1);
        if (length > cfg['limits.maxFileSize'] + MULTIPART_OVERHEAD) throw new AppError('file_too_large');
        const user = await ctx.authenticate(ex);
        if (!ex.body) throw new AppError('file_required');
        const release = ctx.beginUpload(user);
        // The record's fields go to storage with the bytes; the ttl is known once the form is read.
        let describe!: (meta: UploadMeta) => void;
        let refuse!: (err: Error) => void;
        let described = false;
        const meta = new Promise<UploadMeta>((resolve, reject) => {
          describe = (m) => ((described = true), resolve(m));
          refuse = reject;
        });
        // Refused when no file part came (storage was never asked): nobody awaits it then.
        meta.catch(() => undefined);
        try {
          const form = await receiveMultipart(ex.body, contentType!, () => ctx.dataPlane.createUpload({ maxBytes: cfg['limits.maxFileSize'], meta }), ctx.multipartLimits);
          const values = form.fields.ttl;
          if (values && values.length > 1) throw new AppError('invalid_ttl');
          describe({ owner: user, name: form.name, contentType: form.contentType, ttl: ctx.ttl(values?.[0], cfg['models.upload.ttl'], true) });
          const rec = await form.writer.record;
          const url = ctx.url(ex, `/uploads/${rec.id}`);
          ex.json(201, renderUpload(rec, url), { Location: url });
        } finally {
          // Whatever happened, `meta` is settled: not described, storage discards the bytes.
          if (!described) refuse(new AppError('incomplete_body'));
          release();
        }
      },
    },
    {
      method: 'GET',
      pattern: '/uploads/:id',
      async handler(ex, [id]) {
        ctx.id(id, 'upload_not_found');
        const rec = await bus.request<UploadRecord>(COMMANDS.uploadGet, { id });
        await ctx.sendFile(ex, { ...rec, modifiedAt: rec.createdAt }, 'upload_not_found', {
          'Cache-Control': 'private, no-cache',
          Expires: new Date(rec.expiresAt).toUTCString(),
        });
      },
    },
    {
      method: 'DELETE',
      pattern: '/uploads/:id',
      async handler(ex, [id]) {
        const user = await ctx.authenticate(ex);
        ctx.id(id, 'upload_not_found');
        await bus.request(COMMANDS.uploadDelete, { owner: user, id });
        ex.send(204, {});
      },
    },
  ];
}
