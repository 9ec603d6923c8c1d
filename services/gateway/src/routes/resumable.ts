import { AppError, COMMANDS } from '@fileshare/shared';
import type { GatewayContext } from '../context.js';
import type { Exchange } from '../http/exchange.js';
import { ttl } from '../http/json-body.js';
import { TUS_CHECKSUMS, TUS_EXTENSIONS, TUS_VERSION, byteCount, checkOffsetStream, checkVersion, parseMetadata, stateHeaders, tusAnswer, uploadChecksum } from '../http/tus.js';
import { renderResumable } from '../render.js';
import { id, route, type Route } from '../router.js';

/**
 * Resumable uploads, tus 1.0 (creation, creation-with-upload, creation-defer-length, termination,
 * expiration) on the simple-upload URLs: `POST /uploads` with `Tus-Resumable` creates one (see
 * uploads.ts), `HEAD` with `Tus-Resumable` reads its offset, `PATCH` appends a chunk, `DELETE`
 * terminates it. Every byte goes through the data plane to storage, which keeps each chunk durable
 * before the offset moves (services/storage/src/resumable.ts): any gateway, any storage replica.
 */
export function resumableRoutes(ctx: GatewayContext): Route[] {
  const options = (ex: Exchange) =>
    ex.send(204, {
      'Tus-Resumable': TUS_VERSION,
      'Tus-Version': TUS_VERSION,
      'Tus-Extension': TUS_EXTENSIONS,
      'Tus-Max-Size': String(ctx.cfg['limits.maxFileSize']),
      'Tus-Checksum-Algorithm': TUS_CHECKSUMS,
    });
  return [
    route({ method: 'OPTIONS', pattern: '/uploads', auth: 'none', params: {}, handler: async ({ ex }) => options(ex) }),
    route({ method: 'OPTIONS', pattern: '/uploads/:id', auth: 'none', params: { id: id('upload_not_found') }, handler: async ({ ex }) => options(ex) }),
    route({
      method: 'PATCH',
      pattern: '/uploads/:id',
      accept(ex) {
        checkVersion(ex);
        checkOffsetStream(ex);
      },
      auth: 'basic',
      params: { id: id('upload_not_found') },
      handler: ({ ex, user, params }) =>
        tusAnswer(async () => {
          const offset = byteCount(ex.req.headers['upload-offset'], 'invalid_upload_offset');
          if (offset === undefined) throw new AppError('invalid_upload_offset', 'upload offset required');
          const state = await appendChunk(ctx, ex, user, params.id, offset);
          ex.send(204, stateHeaders(state));
        }),
    }),
  ];
}

/** `POST /uploads` with `Tus-Resumable` (the route is in uploads.ts): a new resumable upload, maybe with its first chunk. */
export function createResumable(ctx: GatewayContext, ex: Exchange, user: string): Promise<void> {
  const { cfg } = ctx;
  return tusAnswer(async () => {
    checkVersion(ex);
    const h = ex.req.headers;
    const length = byteCount(h['upload-length'], 'invalid_upload_length');
    const deferred = h['upload-defer-length'];
    if ((length === undefined) === (deferred === undefined) || (deferred !== undefined && deferred !== '1'))
      throw new AppError('invalid_upload_length', 'give upload-length, or upload-defer-length: 1');
    if (length !== undefined && length > cfg['limits.maxFileSize']) throw new AppError('file_too_large');
    const meta = parseMetadata(h['upload-metadata'], cfg['limits.maxNameLength']);
    const seconds = ttl(cfg['limits.maxTtl'], cfg['models.upload.ttl'], true)(meta.ttl);
    if (ex.body) {
      checkOffsetStream(ex);
      uploadChecksum(ex);
    }
    let state = await ctx.bus.request(COMMANDS.resumableCreate, { owner: user, name: meta.name, contentType: meta.contentType, ttl: seconds, length: length ?? null });
    if (ex.body) {
      // A first chunk refused (cut, checksum, too large) takes its upload along: nothing is left
      // that the client was never told the URL of.
      state = await appendChunk(ctx, ex, user, state.id, 0).catch(async (err: unknown) => {
        await ctx.bus.request(COMMANDS.uploadDelete, { owner: user, id: state.id }).catch(() => undefined);
        throw err;
      });
    }
    const url = ctx.urls.url(ex, `/uploads/${state.id}`);
    ex.json(201, renderResumable(state, url), { ...stateHeaders(state), Location: url });
  });
}

/**
 * `HEAD /uploads/:id` with `Tus-Resumable` (the route is in uploads.ts): where the upload stands.
 * 204 (tus allows 200 or 204): a 200 HEAD of this URL describes the download.
 */
export function headResumable(ctx: GatewayContext, ex: Exchange, user: string, uploadId: string): Promise<void> {
  return tusAnswer(async () => {
    checkVersion(ex);
    ex.send(204, stateHeaders(await ctx.bus.request(COMMANDS.resumableGet, { owner: user, id: uploadId })));
  });
}

/** The request's body as the chunk at `offset`: durable, and the offset moved, before this resolves. */
async function appendChunk(ctx: GatewayContext, ex: Exchange, user: string, uploadId: string, offset: number) {
  const length = byteCount(ex.req.headers['upload-length'], 'invalid_upload_length');
  const checksum = uploadChecksum(ex);
  const release = ctx.uploadSlots.begin(user);
  try {
    const writer = ctx.dataPlane.appendUpload({ id: uploadId, owner: user, offset, length, maxBytes: ctx.cfg['limits.maxFileSize'], checksum });
    if (ex.body) await ex.body.sendTo(writer);
    else writer.end();
    return await writer.state;
  } finally {
    release();
  }
}
