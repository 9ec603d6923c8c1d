import { Readable } from 'node:stream';
import { AppError, COMMANDS, DELIVERY_LEASE_MS, deferred, type UploadMeta, type UploadRecord, type UploadWriter } from '@fileshare/shared';
import type { Downloadable } from '../http/download.js';
import type { Exchange } from '../http/exchange.js';
import { countedDownload } from '../http/counted-download.js';
import { uploadSha256 } from '../http/digest.js';
import type { GatewayContext } from '../context.js';
import { downloadLimit, ttl } from '../http/json-body.js';
import { isMultipart, receiveMultipart, type ReceivedForm } from '../http/multipart.js';
import { SIMPLE_FORM_MAX, parseSimpleForm } from '../http/simple-form.js';
import { protocolOf, resumableHead } from '../http/resumable-protocol.js';
import { renderUpload } from '../render.js';
import { id, route, type Route } from '../router.js';
import { createResumable, headResumable } from './resumable.js';

/** Multipart framing allowed on top of limits.maxFileSize before a Content-Length is refused. */
export const MULTIPART_OVERHEAD = 64 * 1024;

/** Simple identification: POST /uploads, GET|HEAD /uploads/:id, DELETE /uploads/:id. */
export function uploadRoutes(ctx: GatewayContext): Route[] {
  const { cfg, bus, urls } = ctx;
  const formTtl = ttl(cfg['limits.maxTtl'], cfg['models.upload.ttl'], true);
  const maxDownloads = downloadLimit(cfg['limits.maxDownloads']);
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
        const sha256 = uploadSha256(ex, false);
        const release = ctx.uploadSlots.begin(user);
        // The record's fields; the ttl is known once the form is read.
        const describe = (form: { name: string; contentType: string; fields: Record<string, string[]> }): UploadMeta => {
          const values = form.fields.ttl;
          if (values && values.length > 1) throw new AppError('invalid_ttl');
          const limit = form.fields.maxDownloads;
          if (limit && limit.length > 1) throw new AppError('invalid_max_downloads');
          return { owner: user, name: form.name, contentType: form.contentType, ttl: formTtl(values?.[0]), ...maxDownloads(limit?.[0]), ...(sha256 ? { sha256 } : {}) };
        };
        try {
          const contentType = ex.req.headers['content-type'] ?? '';
          const length = Number(ex.req.headers['content-length'] ?? -1);
          // A small form of declared length is read whole: the plain form (one file, text fields)
          // then goes to storage with no stream at all; any other is streamed from that buffer.
          const whole = length >= 0 && length <= SIMPLE_FORM_MAX ? await ex.body.whole(length) : null;
          const simple = whole && parseSimpleForm(whole, contentType, ctx.multipartLimits);
          const rec = simple
            ? await ctx.dataPlane.storeUpload({ bytes: simple.file, maxBytes: cfg['limits.maxFileSize'], meta: describe(simple) })
            : await streamUpload(ctx, whole ? Readable.from([whole]) : ex.body, contentType, describe, length);
          const url = urls.url(ex, `/uploads/${rec.id}`);
          ex.json(201, renderUpload(rec, url), { Location: url });
        } finally {
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
      handler({ ex, user, params }) {
        const resumable = resumableHead(ex);
        if (resumable) return headResumable(ctx, ex, resumable, { owner: user, id: params.id });
        // A kept record is answered in this turn (with a cached blob, no promise at all).
        const kept = ctx.uploadRecords.peek(params.id);
        if (kept) return sendUpload(ctx, ex, kept);
        return ctx.uploadRecords.get(params.id).then((rec) => sendUpload(ctx, ex, rec));
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

/**
 * A form streamed into storage as it is parsed (multipart.ts). The record's fields go to storage
 * with the bytes, once the whole form is read: refused (no file part, an invalid field), storage
 * discards the bytes.
 */
async function streamUpload(
  ctx: GatewayContext,
  body: Readable,
  contentType: string,
  describe: (form: ReceivedForm<UploadWriter>) => UploadMeta,
  /** The form's declared length; -1: chunked. */
  length: number,
): Promise<UploadRecord> {
  // Refused when no file part came (storage was never asked): nobody awaits it then.
  const meta = deferred<UploadMeta>({ unhandled: 'ignore' });
  try {
    const open = () => ctx.dataPlane.createUpload({ maxBytes: ctx.cfg['limits.maxFileSize'], meta: meta.promise, ...(length >= 0 ? { expectedBytes: length } : {}) });
    const form = await receiveMultipart(body, contentType, open, ctx.multipartLimits);
    meta.resolve(describe(form));
    return await form.writer.record;
  } finally {
    // Whatever happened, `meta` is settled: not described, storage discards the bytes. (Only
    // then: an AppError per upload is a stack trace captured on the hot path for nothing.)
    if (!meta.settled) meta.reject(new AppError('incomplete_body'));
  }
}

/** A kept record's download form, made once (Downloads memoizes its headers by this object). */
const downloadForms = new WeakMap<UploadRecord, { d: Downloadable; headers: Record<string, string> }>();
function asDownload(rec: UploadRecord): { d: Downloadable; headers: Record<string, string> } {
  let form = downloadForms.get(rec);
  if (!form) {
    form = { d: { ...rec, modifiedAt: rec.createdAt }, headers: { 'Cache-Control': 'private, no-cache', Expires: new Date(rec.expiresAt).toUTCString() } };
    downloadForms.set(rec, form);
  }
  return form;
}

/**
 * A simple upload's download. With `maxDownloads`, a slot is taken first (410 once the limit is
 * reached; storage's download-limits.ts) and the delivery counted when the response ends.
 */
function sendUpload(ctx: GatewayContext, ex: Exchange, rec: UploadRecord): Promise<void> | void {
  const { d, headers } = asDownload(rec);
  if (!rec.maxDownloads || ex.req.method === 'HEAD') return ctx.downloads.send(ex, d, 'upload_not_found', headers);
  return sendCounted(ctx, ex, rec, d, headers);
}

async function sendCounted(ctx: GatewayContext, ex: Exchange, rec: UploadRecord, d: Downloadable, headers: Record<string, string>): Promise<void> {
  const { bus, downloads } = ctx;
  const slot = await bus.request(COMMANDS.uploadDeliveryBegin, { id: rec.id });
  await countedDownload(
    ex,
    downloads,
    d,
    'upload_not_found',
    headers,
    {
      leaseMs: DELIVERY_LEASE_MS,
      renew: () => bus.request(COMMANDS.uploadDeliveryRenew, slot),
      finish: (sent) => bus.request(COMMANDS.uploadDeliveryFinish, { ...slot, sent, size: rec.size }),
    },
    ctx.log,
  );
}
