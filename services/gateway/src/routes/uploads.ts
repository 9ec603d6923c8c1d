import { AppError, COMMANDS, deferred, type UploadMeta } from '@fileshare/shared';
import type { GatewayContext } from '../context.js';
import { ttl } from '../http/json-body.js';
import { isMultipart, receiveMultipart } from '../http/multipart.js';
import { protocolOf, resumableHead } from '../http/resumable-protocol.js';
import { renderUpload } from '../render.js';
import { id, route, type Route } from '../router.js';
import { createResumable, headResumable } from './resumable.js';

/** Multipart framing allowed on top of limits.maxFileSize before a Content-Length is refused. */
export const MULTIPART_OVERHEAD = 64 * 1024;

/** Simple identification: POST /uploads, GET|HEAD /uploads/:id, DELETE /uploads/:id. */
export function uploadRoutes(ctx: GatewayContext): Route[] {
  const { cfg, bus, urls, downloads } = ctx;
  const formTtl = ttl(cfg['limits.maxTtl'], cfg['models.upload.ttl'], true);
  return [
    route({
      method: 'POST',
      pattern: '/uploads',
      accept(ex) {
        if (protocolOf(ex)) return; // a resumable upload (routes/resumable.ts checks its headers)
        if (!isMultipart(ex.req.headers['content-type'])) throw new AppError('multipart_required');
        const length = Number(ex.req.headers['content-length'] ?? -1);
        if (length > cfg['limits.maxFileSize'] + MULTIPART_OVERHEAD) throw new AppError('file_too_large');
      },
      auth: 'basic',
      params: {},
      async handler({ ex, user }) {
        const resumable = protocolOf(ex);
        if (resumable) return createResumable(ctx, ex, user, resumable);
        if (!ex.body) throw new AppError('file_required');
        const release = ctx.uploadSlots.begin(user);
        // The record's fields go to storage with the bytes; the ttl is known once the form is read.
        // Refused when no file part came (storage was never asked): nobody awaits it then.
        const meta = deferred<UploadMeta>({ unhandled: 'ignore' });
        try {
          const open = () => ctx.dataPlane.createUpload({ maxBytes: cfg['limits.maxFileSize'], meta: meta.promise });
          const form = await receiveMultipart(ex.body, ex.req.headers['content-type'], open, ctx.multipartLimits);
          const values = form.fields.ttl;
          if (values && values.length > 1) throw new AppError('invalid_ttl');
          meta.resolve({ owner: user, name: form.name, contentType: form.contentType, ttl: formTtl(values?.[0]) });
          const rec = await form.writer.record;
          const url = urls.url(ex, `/uploads/${rec.id}`);
          ex.json(201, renderUpload(rec, url), { Location: url });
        } finally {
          // Whatever happened, `meta` is settled: not described, storage discards the bytes. (Only
          // then: an AppError per upload is a stack trace captured on the hot path for nothing.)
          if (!meta.settled) meta.reject(new AppError('incomplete_body'));
          release();
        }
      },
    }),
    route({
      method: 'GET',
      pattern: '/uploads/:id',
      // A resumable HEAD asks where an upload stands: its owner's question. Downloads are anyone's.
      auth: (ex) => (resumableHead(ex) ? 'basic' : 'none'),
      params: { id: id('upload_not_found') },
      async handler({ ex, user, params }) {
        const resumable = resumableHead(ex);
        if (resumable) return headResumable(ctx, ex, resumable, { owner: user, id: params.id });
        const rec = await bus.request(COMMANDS.uploadGet, { id: params.id });
        await downloads.send(ex, { ...rec, modifiedAt: rec.createdAt }, 'upload_not_found', {
          'Cache-Control': 'private, no-cache',
          Expires: new Date(rec.expiresAt).toUTCString(),
        });
      },
    }),
    route({
      method: 'DELETE',
      pattern: '/uploads/:id',
      auth: 'basic',
      params: { id: id('upload_not_found') },
      async handler({ ex, user, params }) {
        // Also termination of an incomplete resumable upload (storage deletes either).
        await bus.request(COMMANDS.uploadDelete, { owner: user, id: params.id });
        ex.send(204, { ...protocolOf(ex)?.marker });
      },
    }),
  ];
}
