import type { IncomingMessage, ServerResponse } from 'node:http';
import { timingSafeEqual, createHash } from 'node:crypto';
import {
  INTERNAL_SECRET_HEADER,
  MAX_BYTES_HEADER,
  UPLOAD_TRAILER,
  DIGEST_TRAILER,
  VOLUME_HEADERS,
  AppError,
  decodeAppend,
  decodeUploadMeta,
  json,
  toAppError,
  pump,
  type BlobSink,
  type BlobTransfer,
  type Logger,
  type UploadMeta,
} from '@fileshare/shared';
import type { StorageDataPlane } from './storage-data-plane.js';

/**
 * The storage side of `HttpDataPlane` (see shared/src/dataplane/http.ts for the protocol).
 * Internal only: when `internal.secret` is set every request must carry it.
 */
export function dataPlaneHandler(svc: StorageDataPlane, secret: string, log: Logger) {
  const secretHash = secret ? createHash('sha256').update(secret).digest() : null;
  const authorised = (req: IncomingMessage) => {
    if (!secretHash) return true;
    const given = req.headers[INTERNAL_SECRET_HEADER];
    return typeof given === 'string' && timingSafeEqual(createHash('sha256').update(given).digest(), secretHash);
  };
  const fail = (res: ServerResponse, err: unknown) => {
    const e = toAppError(err, log, { on: 'data plane' });
    if (res.headersSent) return void res.destroy();
    res.setHeader('connection', 'close');
    json(res, e.status, e.toJSON());
  };

  return (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0];
    if (!authorised(req)) return json(res, 403, { message: 'forbidden', code: 'forbidden' });
    if (req.method === 'PUT' && (path === '/blobs' || path === '/uploads')) {
      const maxBytes = maxBytesOf(req);
      const sha256 = trailerDigest(req);
      const upload = path === '/uploads' ? svc.createUpload({ maxBytes, meta: trailerMeta(req), sha256 }) : undefined;
      const writer = upload ?? svc.createBlob({ maxBytes, sha256 });
      pump(req, writer)
        .then((): Promise<unknown> => upload?.record ?? writer.done)
        .then((body) => json(res, 201, body))
        .catch((err) => {
          writer.destroy();
          fail(res, err);
        });
      return;
    }
    const v = /^\/volume\/(probe|guard|drop|uploads|append|renew|appended|release)\/([0-9a-z-]{1,64})$/.exec(path);
    if (req.method === 'PUT' && v) {
      const [, verb, name] = v;
      const meta = verb === 'uploads' ? trailerMeta(req) : undefined;
      meta?.catch(() => undefined); // awaited below; refused meta is the answer
      req.resume(); // an empty body; its end brings the trailers
      volumeRequest(svc, verb, name, req, meta)
        .then((body) => json(res, 201, body))
        .catch((err) => fail(res, err));
      return;
    }
    const r = /^\/resumable\/([0-9a-f-]{36})$/.exec(path);
    if (req.method === 'PUT' && r) {
      let writer;
      try {
        writer = svc.appendUpload(decodeAppend(r[1], req.headers, maxBytesOf(req)));
      } catch (err) {
        req.resume();
        return fail(res, err);
      }
      pump(req, writer)
        .then(() => writer.state)
        .then((state) => json(res, 201, state))
        .catch((err) => {
          writer.destroy();
          fail(res, err);
        });
      return;
    }
    const m = /^\/blobs\/([0-9a-f-]{36})$/.exec(path);
    if (req.method === 'GET' && m) {
      const range = parseRange(req.headers.range);
      if (range) return void svc.sendBlob(m[1], range, responseSink(res, range.end - range.start + 1)).catch((err) => fail(res, err));
      svc
        .readBlob(m[1])
        .then((stream) => {
          res.writeHead(200, { 'content-type': 'application/octet-stream' });
          return pump(stream, res);
        })
        .catch((err) => fail(res, err));
      return;
    }
    json(res, 404, { message: 'not found', code: 'not_found' });
  };
}

/**
 * A ranged response fed with views of the blob store's read buffer: each view is held until the
 * socket took it (the write callback), then the store reads the next chunk into the same buffer.
 */
function responseSink(res: ServerResponse, length: number): BlobSink {
  let transfer: BlobTransfer | undefined;
  res.on('close', () => {
    if (!res.writableFinished) transfer?.cancel();
  });
  return {
    start(t) {
      transfer = t;
      if (res.destroyed) return t.cancel(); // the gateway went away already
      res.writeHead(206, { 'content-type': 'application/octet-stream', 'content-length': length });
    },
    write(view) {
      res.write(view, (err) => (err ? transfer?.cancel() : transfer?.resume()));
      return false;
    },
    end: () => res.end(),
    fail: () => res.destroy(),
  };
}

/** `PUT /volume/<verb>/<name>`: the books of a blob a gateway writes on the shared volume (StorageDataPlane). */
async function volumeRequest(svc: StorageDataPlane, verb: string, name: string, req: IncomingMessage, meta: Promise<UploadMeta> | undefined): Promise<object> {
  const header = (h: string) => (typeof req.headers[h] === 'string' ? req.headers[h] : '');
  switch (verb) {
    case 'probe':
      return { shared: await svc.seesVolumeProbe(name, header(VOLUME_HEADERS.probe)) };
    case 'guard':
      await svc.guardPlaced(name);
      return {};
    case 'drop':
      await svc.dropPlaced(name);
      return {};
    case 'append':
      return (await svc.beginPlacedAppend(decodeAppend(name, req.headers, maxBytesOf(req)))) ?? {};
    case 'renew':
      return { held: await svc.renewPlacedAppend(name) };
    case 'release':
      await svc.releasePlacedAppend(name);
      return {};
    case 'appended': {
      const size = Number(header(VOLUME_HEADERS.size));
      const sha256 = header(VOLUME_HEADERS.sha256) || undefined;
      if (!Number.isSafeInteger(size) || size < 0 || (sha256 !== undefined && !/^[0-9a-f]{64}$/.test(sha256)))
        throw new AppError('bad_request', 'missing or malformed chunk headers');
      return svc.placedAppended(decodeAppend(name, req.headers, maxBytesOf(req)), { size, sha256 });
    }
    default: {
      const size = Number(header(VOLUME_HEADERS.size));
      const sha256 = header(VOLUME_HEADERS.sha256);
      if (!Number.isSafeInteger(size) || size < 0 || !/^[0-9a-f]{64}$/.test(sha256)) throw new AppError('bad_request', 'missing or malformed blob headers');
      return svc.recordPlaced({ key: name, size, sha256 }, await meta!);
    }
  }
}

/** A simple upload's record fields: the request's trailer, read once its body ended. */
function trailerMeta(req: IncomingMessage): Promise<UploadMeta> {
  return new Promise((resolve, reject) =>
    req.once('end', () => {
      try {
        resolve(decodeUploadMeta(req.trailers[UPLOAD_TRAILER]));
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    }),
  );
}

/**
 * The blob's sha256 from the sender, when its `Trailer` header announces one (DIGEST_TRAILER): read
 * once the body ended. A sender that does not (an older gateway) leaves the hashing to storage.
 */
function trailerDigest(req: IncomingMessage): (() => string | undefined) | undefined {
  const announced = (req.headers.trailer ?? '')
    .toLowerCase()
    .split(',')
    .some((t) => t.trim() === DIGEST_TRAILER);
  return announced ? () => req.trailers[DIGEST_TRAILER] : undefined;
}

function parseRange(h: string | undefined) {
  const m = h ? /^bytes=(\d+)-(\d+)$/.exec(h) : null;
  return m ? { start: Number(m[1]), end: Number(m[2]) } : undefined;
}

/** The byte limit the gateway sent (none: no limit of its own). */
function maxBytesOf(req: IncomingMessage): number {
  const given = Number(req.headers[MAX_BYTES_HEADER]);
  return Number.isSafeInteger(given) && given > 0 ? given : Number.MAX_SAFE_INTEGER;
}
