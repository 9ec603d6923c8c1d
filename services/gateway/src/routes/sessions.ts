import { COMMANDS } from '@fileshare/shared';
import type { GatewayContext } from '../context.js';
import { cleanFileName } from '../http/disposition.js';
import { object, optionalMediaType, optionalSize, requiredString, ttl } from '../http/json-body.js';
import { protocolOf, resumableHead } from '../http/resumable-protocol.js';
import { renderFile, renderSession } from '../render.js';
import { id, route, type Route } from '../router.js';
import { headResumable } from './resumable.js';

const session = { sid: id('session_not_found') };
const file = { sid: id('session_not_found'), fid: id('file_not_found') };

/** Sessions: create, list, read, delete. */
export function sessionRoutes(ctx: GatewayContext): Route[] {
  const { cfg, bus, urls } = ctx;
  // Schemas are built before `route()`: written inline, TypeScript infers them from the route's type instead.
  const newSession = object({ ttl: ttl(cfg['limits.maxTtl'], cfg['models.session.ttl']) });
  return [
    route({
      method: 'POST',
      pattern: '/sessions',
      auth: 'basic',
      params: {},
      json: newSession,
      async handler({ ex, user, body }) {
        const s = await bus.request(COMMANDS.sessionCreate, { owner: user, ttl: body.ttl });
        ex.json(201, renderSession(s), { Location: urls.url(ex, `/sessions/${s.id}`) });
      },
    }),
    route({
      method: 'GET',
      pattern: '/sessions',
      auth: 'basic',
      params: {},
      async handler({ ex, user }) {
        const list = await bus.request(COMMANDS.sessionList, { owner: user });
        ex.json(200, list.map(renderSession));
      },
    }),
    route({
      method: 'GET',
      pattern: '/sessions/:sid',
      auth: 'basic',
      params: session,
      async handler({ ex, user, params }) {
        ex.json(200, renderSession(await bus.request(COMMANDS.sessionGet, { owner: user, id: params.sid })));
      },
    }),
    route({
      method: 'DELETE',
      pattern: '/sessions/:sid',
      auth: 'basic',
      params: session,
      async handler({ ex, user, params }) {
        await bus.request(COMMANDS.sessionDelete, { owner: user, id: params.sid });
        ex.send(204, {});
      },
    }),
  ];
}

/** A session's file entries: create, list, read, delete (the bytes: files.ts). */
export function fileEntryRoutes(ctx: GatewayContext): Route[] {
  const { cfg, bus, urls } = ctx;
  const newFile = object({ name: requiredString('name'), contentType: optionalMediaType, size: optionalSize(cfg['limits.maxFileSize']) });
  return [
    route({
      method: 'POST',
      pattern: '/sessions/:sid/files',
      auth: 'basic',
      params: session,
      json: newFile,
      async handler({ ex, user, params, body }) {
        const f = await bus.request(COMMANDS.fileCreate, {
          owner: user,
          sessionId: params.sid,
          name: cleanFileName(body.name, cfg['limits.maxNameLength']),
          contentType: body.contentType ?? 'application/octet-stream',
          size: body.size,
        });
        ex.json(201, renderFile(f), { Location: urls.url(ex, `/sessions/${params.sid}/files/${f.id}`) });
      },
    }),
    route({
      method: 'GET',
      pattern: '/sessions/:sid/files',
      auth: 'basic',
      params: session,
      async handler({ ex, user, params }) {
        const files = await bus.request(COMMANDS.fileList, { owner: user, id: params.sid });
        ex.json(200, files.map(renderFile));
      },
    }),
    route({
      method: 'GET',
      pattern: '/sessions/:sid/files/:fid',
      auth: 'basic',
      params: file,
      async handler({ ex, user, params }) {
        // A resumable HEAD: where the upload of the file's bytes stands (the entry's URL is its upload URL).
        const resumable = resumableHead(ex);
        if (resumable) return headResumable(ctx, ex, resumable, { owner: user, id: params.fid, sessionId: params.sid });
        ex.json(200, renderFile(await bus.request(COMMANDS.fileGet, { owner: user, sessionId: params.sid, fileId: params.fid })));
      },
    }),
    route({
      method: 'DELETE',
      pattern: '/sessions/:sid/files/:fid',
      auth: 'basic',
      params: file,
      async handler({ ex, user, params }) {
        // Also termination of the file's unfinished resumable upload (storage drops it with the entry).
        await bus.request(COMMANDS.fileDelete, { owner: user, sessionId: params.sid, fileId: params.fid });
        ex.send(204, { ...protocolOf(ex)?.marker });
      },
    }),
  ];
}
