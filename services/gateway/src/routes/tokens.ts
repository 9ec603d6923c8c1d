import { BoundedMap, COMMANDS, DELIVERY_LEASE_MS, type FileRecord } from '@fileshare/shared';
import { countedDownload } from '../http/counted-download.js';
import type { Downloadable } from '../http/download.js';
import type { GatewayContext } from '../context.js';
import { object, ttl } from '../http/json-body.js';
import { renderToken } from '../render.js';
import { id, route, tokenId, type Route } from '../router.js';

/**
 * Ready files' download forms, by blob key: Downloads memoizes a representation's headers by this
 * object (and by the extra headers' object). On NATS every download's record is decoded afresh,
 * so a form per record object formatted the headers (dates, digest, disposition) for every
 * download of a file shared through many tokens. A blob key names one stored file; its form is
 * reused only while every field it holds is the same.
 */
const forms = new BoundedMap<string, Downloadable>(1024);
function downloadable(file: FileRecord): Downloadable {
  const blob = file.blob!;
  const modifiedAt = file.storedAt ?? file.createdAt;
  const kept = forms.get(blob);
  if (kept && kept.size === file.size && kept.name === file.name && kept.contentType === file.contentType && kept.sha256 === file.sha256 && kept.modifiedAt === modifiedAt)
    return kept;
  const d: Downloadable = { blob, size: file.size!, name: file.name, contentType: file.contentType, sha256: file.sha256!, modifiedAt };
  forms.set(blob, d);
  return d;
}
/** A token's download is for one client: never cached on the way. */
const NO_STORE = Object.freeze({ 'Cache-Control': 'no-store' });

/** Token issuing (auth) and the one-time download (the URL is the capability; docs/one-time-links.md). */
export function tokenRoutes(ctx: GatewayContext): Route[] {
  const { cfg, bus, urls, downloads } = ctx;
  const newToken = object({ ttl: ttl(cfg['limits.maxTtl'], cfg['limits.maxTtl']) });
  return [
    route({
      method: 'POST',
      pattern: '/sessions/:sid/files/:fid/tokens',
      auth: 'basic',
      params: { sid: id('session_not_found'), fid: id('file_not_found') },
      json: newToken,
      async handler({ ex, user, params: { sid, fid }, body }) {
        const t = await bus.request(COMMANDS.tokenIssue, { owner: user, sessionId: sid, fileId: fid, ttl: body.ttl });
        const url = urls.url(ex, `/sessions/${sid}/files/${fid}/tokens/${t.id}`);
        ex.json(201, renderToken(t, url), { Location: url });
      },
    }),
    route({
      method: 'GET',
      pattern: '/sessions/:sid/files/:fid/tokens/:tid',
      auth: 'none',
      // Whatever is malformed, the answer is the same: a token link reveals nothing about the rest.
      params: { sid: id('token_not_found'), fid: id('token_not_found'), tid: tokenId('token_not_found') },
      async handler({ ex, params }) {
        const ref = { tokenId: params.tid, sessionId: params.sid, fileId: params.fid };
        const headers = NO_STORE;
        // HEAD never begins a delivery.
        if (ex.req.method === 'HEAD') return downloads.send(ex, downloadable((await bus.request(COMMANDS.tokenPeek, ref)).file), 'token_not_found', headers);
        // A delivery: the token's lease is held until the response ends, then the tokens service
        // hears what was sent and spends the token if the whole file was delivered.
        const { file } = await bus.request(COMMANDS.tokenBegin, ref);
        await countedDownload(
          ex,
          downloads,
          downloadable(file),
          'token_not_found',
          headers,
          {
            leaseMs: DELIVERY_LEASE_MS,
            renew: () => bus.request(COMMANDS.tokenRenew, ref),
            finish: (sent) => bus.request(COMMANDS.tokenFinish, { ...ref, sent, size: file.size! }),
          },
          ctx.log,
        );
      },
    }),
  ];
}
