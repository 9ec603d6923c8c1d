import { AppError, COMMANDS, isId, type ResumableRef } from '@fileshare/shared';
import type { GatewayContext } from '../context.js';
import type { Exchange } from '../http/exchange.js';
import { downloadLimit, ttl } from '../http/json-body.js';
import { answer, protocolOf, TUS, type ResumableProtocol } from '../http/resumable-protocol.js';
import { TUS_CHECKSUMS, TUS_EXTENSIONS, TUS_VERSION, byteCount, parseMetadata, uploadChecksum } from '../http/tus.js';
import { renderResumable } from '../render.js';
import { id, route, type Route } from '../router.js';

/** Parts a tus final upload may name. */
const MAX_PARTS = 100;

/**
 * Resumable uploads — tus 1.0 and the IETF draft (interop version 6), http/resumable-protocol.ts —
 * on the simple-upload URLs (`POST /uploads` creates one, see uploads.ts) and on session file URLs
 * (a file entry is its own upload URL): `HEAD` with the protocol's header reads the offset, `PATCH`
 * appends a chunk, `DELETE` terminates. Every byte goes through the data plane to storage, which
 * keeps each chunk durable before the offset moves (services/storage/src/resumable.ts): any
 * gateway, any storage replica.
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
  const patch = (pattern: string, params: Record<string, ReturnType<typeof id>>, ref: (p: Record<string, string>) => { id: string; sessionId?: string }) =>
    route({
      method: 'PATCH',
      pattern,
      accept(ex) {
        const p = protocolOf(ex) ?? TUS;
        p.checkVersion(ex);
        p.checkChunkType(ex);
      },
      auth: 'basic',
      params,
      handler: ({ ex, user, params }) => {
        const p = protocolOf(ex)!;
        return answer(p, async () => {
          const offset = byteCount(ex.req.headers['upload-offset'], 'invalid_upload_offset');
          if (offset === undefined) throw new AppError('invalid_upload_offset', 'upload offset required');
          const state = await appendChunk(ctx, ex, { ...ref(params), owner: user }, offset, p.appendCompletes(ex));
          ex.send(204, p.stateHeaders(state));
        });
      },
    });
  return [
    route({ method: 'OPTIONS', pattern: '/uploads', auth: 'none', params: {}, handler: async ({ ex }) => options(ex) }),
    route({ method: 'OPTIONS', pattern: '/uploads/:id', auth: 'none', params: { id: id('upload_not_found') }, handler: async ({ ex }) => options(ex) }),
    patch('/uploads/:id', { id: id('upload_not_found') }, (p) => ({ id: p.id })),
    patch('/sessions/:sid/files/:fid', { sid: id('session_not_found'), fid: id('file_not_found') }, (p) => ({ id: p.fid, sessionId: p.sid })),
  ];
}

/** `POST /uploads` speaking a resumable protocol (the route is in uploads.ts): a new upload, maybe with its first (or only) chunk. */
export function createResumable(ctx: GatewayContext, ex: Exchange, user: string, p: ResumableProtocol): Promise<void> {
  const { cfg } = ctx;
  return answer(p, async () => {
    p.checkVersion(ex);
    const h = ex.req.headers;
    const meta = parseMetadata(h['upload-metadata'], cfg['limits.maxNameLength']);
    const fields = {
      owner: user,
      name: meta.name,
      contentType: meta.contentType ?? p.bodyType(ex) ?? 'application/octet-stream',
      ttl: ttl(cfg['limits.maxTtl'], cfg['models.upload.ttl'], true)(meta.ttl),
      ...downloadLimit(cfg['limits.maxDownloads'])(meta.maxDownloads),
    };
    const concat = h['upload-concat'];
    if (concat?.startsWith('final;')) {
      if (ex.body) throw new AppError('invalid_concat', 'a final upload carries no body');
      const state = await ctx.bus.request(COMMANDS.resumableConcat, { ...fields, parts: partIds(concat), maxBytes: cfg['limits.maxFileSize'] });
      const url = ctx.urls.url(ex, `/uploads/${state.id}`);
      return ex.json(201, renderResumable(state, url), { ...p.stateHeaders(state), Location: url });
    }
    if (concat !== undefined && concat !== 'partial') throw new AppError('invalid_concat');
    const { complete, ...declared } = p.creation(ex);
    let length = declared.length;
    if (complete && !ex.body) {
      if (length !== null && length !== 0) throw new AppError('invalid_upload_length', 'upload complete before its declared length');
      length = 0;
    }
    if (length !== null && length > cfg['limits.maxFileSize']) throw new AppError('file_too_large');
    if (ex.body) {
      p.checkCreationBody(ex);
      uploadChecksum(ex);
    }
    let state = await ctx.bus.request(COMMANDS.resumableCreate, { ...fields, length, ...(concat ? { partial: true } : {}) });
    if (ex.body) {
      // A first chunk refused (cut, checksum, too large) takes its upload along: nothing is left
      // that the client was never told the URL of.
      state = await appendChunk(ctx, ex, { owner: user, id: state.id }, 0, complete).catch(async (err: unknown) => {
        await ctx.bus.request(COMMANDS.uploadDelete, { owner: user, id: state.id }).catch(() => undefined);
        throw err;
      });
    }
    const url = ctx.urls.url(ex, `/uploads/${state.id}`);
    ex.json(201, renderResumable(state, url), { ...p.stateHeaders(state), Location: url });
  });
}

/** The ids in `Upload-Concat: final;<url> <url>…`: upload URLs, absolute or not, of this API. */
function partIds(header: string): string[] {
  const urls = header.slice('final;'.length).trim().split(/ +/);
  if (urls.length > MAX_PARTS) throw new AppError('invalid_concat', `upload-concat: at most ${MAX_PARTS} parts`);
  return urls.map((u) => {
    let path = '';
    try {
      path = new URL(u, 'http://any').pathname;
    } catch {
      /* not a URL: refused below */
    }
    const m = /\/uploads\/([^/]+)$/.exec(path);
    if (!m || !isId(m[1])) throw new AppError('invalid_concat', 'upload-concat: not an upload url');
    return m[1];
  });
}

/**
 * `HEAD` of an upload URL or a session file's URL speaking a resumable protocol (the routes are in
 * uploads.ts and sessions.ts): where the upload stands. 204 (tus allows 200 or 204): a 200 HEAD of
 * these URLs is the plain HTTP one.
 */
export function headResumable(ctx: GatewayContext, ex: Exchange, p: ResumableProtocol, ref: ResumableRef): Promise<void> {
  return answer(p, async () => {
    p.checkVersion(ex);
    ex.send(204, p.stateHeaders(await ctx.bus.request(COMMANDS.resumableGet, ref)));
  });
}

/** The request's body as the chunk at `offset`: durable, and the offset moved, before this resolves. */
async function appendChunk(ctx: GatewayContext, ex: Exchange, ref: ResumableRef, offset: number, complete: boolean) {
  const length = byteCount(ex.req.headers['upload-length'], 'invalid_upload_length');
  const checksum = uploadChecksum(ex);
  const release = ctx.uploadSlots.begin(ref.owner);
  try {
    const declared = ex.req.headers['content-length'] === undefined ? -1 : Number(ex.req.headers['content-length']);
    const expectedBytes = declared >= 0 ? { expectedBytes: declared } : {};
    const writer = ctx.dataPlane.appendUpload({ ...ref, offset, length, maxBytes: ctx.cfg['limits.maxFileSize'], checksum, complete, ...expectedBytes });
    if (ex.body) await ex.body.sendTo(writer);
    else writer.end();
    return await writer.state;
  } finally {
    release();
  }
}
