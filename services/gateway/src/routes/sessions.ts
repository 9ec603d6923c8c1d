import { AppError, COMMANDS, isMediaType, type FileCreate, type FileRecord, type SessionRecord } from '@fileshare/shared';
import type { GatewayContext } from '../context.js';
import { cleanFileName } from '../http/disposition.js';
import { renderFile, renderSession } from '../render.js';
import type { Route } from '../router.js';

/** Sessions and their file entries (everything but the bytes and the tokens). */
export function sessionRoutes(ctx: GatewayContext): Route[] {
  const { cfg, bus } = ctx;
  return [
    {
      method: 'POST',
      pattern: '/sessions',
      async handler(ex) {
        const user = await ctx.authenticate(ex);
        const body = await ctx.jsonBody(ex);
        const ttl = ctx.ttl(body.ttl, cfg['models.session.ttl']);
        const s = await bus.request<SessionRecord>(COMMANDS.sessionCreate, { owner: user, ttl });
        ex.json(201, renderSession(s), { Location: ctx.url(ex, `/sessions/${s.id}`) });
      },
    },
    {
      method: 'GET',
      pattern: '/sessions',
      async handler(ex) {
        const user = await ctx.authenticate(ex);
        const list = await bus.request<SessionRecord[]>(COMMANDS.sessionList, { owner: user });
        ex.json(200, list.map(renderSession));
      },
    },
    {
      method: 'GET',
      pattern: '/sessions/:sid',
      async handler(ex, [sid]) {
        const user = await ctx.authenticate(ex);
        ctx.id(sid, 'session_not_found');
        ex.json(200, renderSession(await bus.request<SessionRecord>(COMMANDS.sessionGet, { owner: user, id: sid })));
      },
    },
    {
      method: 'DELETE',
      pattern: '/sessions/:sid',
      async handler(ex, [sid]) {
        const user = await ctx.authenticate(ex);
        ctx.id(sid, 'session_not_found');
        await bus.request(COMMANDS.sessionDelete, { owner: user, id: sid });
        ex.send(204, {});
      },
    },
    {
      method: 'POST',
      pattern: '/sessions/:sid/files',
      async handler(ex, [sid]) {
        const user = await ctx.authenticate(ex);
        ctx.id(sid, 'session_not_found');
        const body = await ctx.jsonBody(ex);
        if (typeof body.name !== 'string' || body.name.trim() === '') throw new AppError('invalid_field', 'name is required');
        if (body.contentType !== undefined && (typeof body.contentType !== 'string' || body.contentType.length > 255 || !isMediaType(body.contentType)))
          throw new AppError('invalid_field', 'invalid content type');
        if (body.size !== undefined && body.size !== null && (!Number.isSafeInteger(body.size) || (body.size as number) < 0)) throw new AppError('invalid_field', 'invalid size');
        if (typeof body.size === 'number' && body.size > cfg['limits.maxFileSize']) throw new AppError('file_too_large');
        const req: FileCreate = {
          owner: user,
          sessionId: sid,
          name: cleanFileName(body.name, cfg['limits.maxNameLength']),
          contentType: (body.contentType as string | undefined) ?? 'application/octet-stream',
          size: (body.size as number | undefined) ?? null,
        };
        const f = await bus.request<FileRecord>(COMMANDS.fileCreate, req);
        ex.json(201, renderFile(f), { Location: ctx.url(ex, `/sessions/${sid}/files/${f.id}`) });
      },
    },
    {
      method: 'GET',
      pattern: '/sessions/:sid/files',
      async handler(ex, [sid]) {
        const user = await ctx.authenticate(ex);
        ctx.id(sid, 'session_not_found');
        const files = await bus.request<FileRecord[]>(COMMANDS.fileList, { owner: user, id: sid });
        ex.json(200, files.map(renderFile));
      },
    },
    {
      method: 'GET',
      pattern: '/sessions/:sid/files/:fid',
      async handler(ex, [sid, fid]) {
        const user = await ctx.authenticate(ex);
        ctx.id(sid, 'session_not_found');
        ctx.id(fid, 'file_not_found');
        ex.json(200, renderFile(await bus.request<FileRecord>(COMMANDS.fileGet, { owner: user, sessionId: sid, fileId: fid })));
      },
    },
    {
      method: 'DELETE',
      pattern: '/sessions/:sid/files/:fid',
      async handler(ex, [sid, fid]) {
        const user = await ctx.authenticate(ex);
        ctx.id(sid, 'session_not_found');
        ctx.id(fid, 'file_not_found');
        await bus.request(COMMANDS.fileDelete, { owner: user, sessionId: sid, fileId: fid });
        ex.send(204, {});
      },
    },
  ];
}
