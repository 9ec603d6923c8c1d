import { AppError, COMMANDS, isId, isTokenId, type TokenGrant, type TokenRecord, type TokenRef } from '@fileshare/shared';
import type { GatewayContext } from '../context.js';
import { renderToken } from '../render.js';
import type { Route } from '../router.js';

/** Token issuing (auth) and the one-time download (the URL is the capability). */
export function tokenRoutes(ctx: GatewayContext): Route[] {
  const { cfg, bus } = ctx;
  return [
    {
      method: 'POST',
      pattern: '/sessions/:sid/files/:fid/tokens',
      async handler(ex, [sid, fid]) {
        const user = await ctx.authenticate(ex);
        ctx.id(sid, 'session_not_found');
        ctx.id(fid, 'file_not_found');
        const body = await ctx.jsonBody(ex);
        const ttl = ctx.ttl(body.ttl, cfg['limits.maxTtl']);
        const t = await bus.request<TokenRecord>(COMMANDS.tokenIssue, { owner: user, sessionId: sid, fileId: fid, ttl });
        const url = ctx.url(ex, `/sessions/${sid}/files/${fid}/tokens/${t.id}`);
        ex.json(201, renderToken(t, url), { Location: url });
      },
    },
    {
      method: 'GET',
      pattern: '/sessions/:sid/files/:fid/tokens/:tid',
      async handler(ex, [sid, fid, tid]) {
        if (!isId(sid) || !isId(fid) || !isTokenId(tid)) throw new AppError('token_not_found');
        const ref: TokenRef = { tokenId: tid, sessionId: sid, fileId: fid };
        // HEAD never consumes.
        const { file } = await bus.request<TokenGrant>(ex.req.method === 'HEAD' ? COMMANDS.tokenPeek : COMMANDS.tokenConsume, ref);
        await ctx.sendFile(
          ex,
          { blob: file.blob!, size: file.size!, name: file.name, contentType: file.contentType, sha256: file.sha256!, modifiedAt: file.storedAt ?? file.createdAt },
          'token_not_found',
          { 'Cache-Control': 'no-store' },
        );
      },
    },
  ];
}
