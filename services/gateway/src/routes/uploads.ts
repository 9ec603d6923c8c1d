import { AppError, COMMANDS, type UploadCreate, type UploadRecord } from '@fileshare/shared';
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
        try {
          const got = await receiveMultipart(ex.body, contentType!, ctx.dataPlane, {
            maxFileSize: cfg['limits.maxFileSize'],
            maxFields: cfg['limits.maxFields'],
            maxFieldSize: cfg['limits.maxFieldSize'],
            maxNameLength: cfg['limits.maxNameLength'],
          });
          let ttl: number;
          try {
            const values = got.fields.ttl;
            if (values && values.length > 1) throw new AppError('invalid_ttl');
            ttl = ctx.ttl(values?.[0], cfg['models.upload.ttl'], true);
          } catch (err) {
            await bus.request(COMMANDS.blobDiscard, { key: got.blob.key }).catch(() => undefined);
            throw err;
          }
          const body: UploadCreate = { owner: user, name: got.name, contentType: got.contentType, ttl, blob: got.blob };
          const rec = await bus.request<UploadRecord>(COMMANDS.uploadCreate, body);
          const url = ctx.url(ex, `/uploads/${rec.id}`);
          ex.json(201, renderUpload(rec, url), { Location: url });
        } finally {
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
