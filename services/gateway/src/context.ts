import { AppError, isAppError, isId, metrics, type BlobSink, type Bus, type ErrorCode, type Config, type DataPlane, type Logger } from '@fileshare/shared';
import type { Authenticator } from './auth/authenticator.js';
import type { BlobCache } from './http/blob-cache.js';
import { contentDisposition } from './http/disposition.js';
import { bodySink } from './http/download.js';
import type { MultipartLimits } from './http/multipart.js';
import type { Exchange } from './http/exchange.js';
import { nonIntegerLiterals } from './http/json-numbers.js';
import { parseRange } from './http/range.js';

const HOST = /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/;
const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(;|$)/i;

/** What a downloadable thing looks like to `sendFile`. */
export interface Downloadable {
  blob: string;
  size: number;
  name: string;
  contentType: string;
  sha256: string;
  modifiedAt: number;
}

/**
 * What route handlers share: config, bus, data plane, authenticator, and the helpers every
 * endpoint needs (auth, JSON bodies, ttl parsing, absolute URLs, file responses).
 */
export class GatewayContext {
  /** Uploads in flight per user on this gateway (limits.maxUploadsPerUser). */
  private readonly uploadsInFlight = new Map<string, number>();
  /** What a multipart upload may hold besides its file (limits.*). */
  readonly multipartLimits: MultipartLimits;

  constructor(
    readonly cfg: Config,
    readonly bus: Bus,
    readonly dataPlane: DataPlane,
    readonly auth: Authenticator,
    readonly log: Logger,
    readonly tls: boolean,
    private readonly cache: BlobCache,
  ) {
    this.multipartLimits = { maxFields: cfg['limits.maxFields'], maxFieldSize: cfg['limits.maxFieldSize'], maxNameLength: cfg['limits.maxNameLength'] };
  }

  async authenticate(ex: Exchange): Promise<string> {
    ex.user = await this.auth.authenticate(ex.req.headers.authorization ?? '', ex.req.remote);
    return ex.user;
  }

  /** Reserve an upload slot for `user`; the returned function releases it. */
  beginUpload(user: string): () => void {
    const n = this.uploadsInFlight.get(user) ?? 0;
    if (n >= this.cfg['limits.maxUploadsPerUser']) throw new AppError('too_many_uploads');
    this.uploadsInFlight.set(user, n + 1);
    metrics.uploadsInFlight.inc();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      metrics.uploadsInFlight.dec();
      const left = (this.uploadsInFlight.get(user) ?? 1) - 1;
      if (left <= 0) this.uploadsInFlight.delete(user);
      else this.uploadsInFlight.set(user, left);
    };
  }

  /**
   * An optional JSON object body: empty is `{}`; otherwise it must be `application/json`
   * (415), parse (400) and be an object (400), within `limits.maxJsonBody` (413).
   */
  async jsonBody(ex: Exchange): Promise<Record<string, unknown>> {
    if (!ex.body) return {};
    const raw = await ex.body.readAll(this.cfg['limits.maxJsonBody']);
    if (raw.length === 0) return {};
    if (!JSON_TYPE.test(ex.req.headers['content-type'] ?? '')) throw new AppError('json_required');
    let v: unknown;
    try {
      v = JSON.parse(raw.toString('utf8'));
    } catch {
      throw new AppError('invalid_json');
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new AppError('invalid_json', 'json body must be an object');
    // Counts and seconds are integers written as digits: `1e3` or `5.0` fail every integer check.
    for (const key of nonIntegerLiterals(raw.toString('utf8'))) (v as Record<string, unknown>)[key] = Number.NaN;
    return v as Record<string, unknown>;
  }

  /**
   * A ttl in whole seconds within 1..limits.maxTtl: a JSON number, or a form field of digits
   * (`fromForm`). A JSON string "60" is refused: the contract says integer seconds.
   */
  ttl(value: unknown, fallback: number, fromForm = false): number {
    if (value === undefined) return Math.min(fallback, this.cfg['limits.maxTtl']);
    let n: number;
    if (!fromForm && typeof value === 'number') n = value;
    else if (fromForm && typeof value === 'string' && /^\d{1,12}$/.test(value)) n = Number(value);
    else throw new AppError('invalid_ttl');
    if (!Number.isSafeInteger(n) || n < 1 || n > this.cfg['limits.maxTtl']) throw new AppError('invalid_ttl');
    return n;
  }

  /** Absolute URL of an API path (`/uploads/<id>`): `http.publicUrl`, else scheme + Host header. */
  url(ex: Exchange, apiPath: string): string {
    const base = this.cfg['http.basePath'] === '/' ? '' : this.cfg['http.basePath'];
    const pub = this.cfg['http.publicUrl'];
    if (pub) return pub.replace(/\/$/, '') + base + apiPath;
    const h = ex.req.headers;
    let scheme = this.tls ? 'https' : 'http';
    let host = h.host ?? '';
    if (this.cfg['http.trustProxy']) {
      const proto = h['x-forwarded-proto']?.split(',')[0].trim();
      if (proto === 'http' || proto === 'https') scheme = proto;
      const fwdHost = h['x-forwarded-host']?.split(',')[0].trim();
      if (fwdHost) host = fwdHost;
    }
    if (!HOST.test(host)) host = 'localhost';
    return `${scheme}://${host}${base}${apiPath}`;
  }

  /** A small blob, from the cache or read whole once (the data plane's views copied out) and kept. */
  private async smallBlob(f: Downloadable, gone: ErrorCode): Promise<Buffer> {
    const hit = this.cache.get(f.blob);
    if (hit) return hit;
    const bytes = Buffer.allocUnsafe(f.size);
    let got = 0;
    if (f.size > 0) {
      await new Promise<void>((resolve, reject) => {
        const sink: BlobSink = {
          start: () => undefined,
          write: (view) => ((got += view.copy(bytes, got)), true),
          end: () => resolve(),
          fail: reject,
        };
        this.dataPlane.sendBlob(f.blob, { start: 0, end: f.size - 1 }, sink).catch(blobGone(gone)).catch(reject);
      });
    }
    if (got !== f.size) throw new Error(`blob ${f.blob}: stored size ${got} differs from the record (${f.size})`);
    this.cache.set(f.blob, bytes);
    return bytes;
  }

  /** Validates an id parameter; a malformed one is the given 404. */
  id(value: string, notFound: ErrorCode): string {
    if (!isId(value)) throw new AppError(notFound);
    return value;
  }

  /**
   * A file download: headers of API.md, conditional GET (If-None-Match), Range (206/416),
   * HEAD without body; bytes streamed from the data plane with backpressure.
   */
  async sendFile(ex: Exchange, f: Downloadable, gone: ErrorCode, extraHeaders: Record<string, string> = {}): Promise<void> {
    const etag = `"${f.sha256}"`;
    const headers: Record<string, string | number> = {
      'Content-Type': f.contentType || 'application/octet-stream',
      'Content-Disposition': contentDisposition(f.name),
      ETag: etag,
      'Last-Modified': new Date(f.modifiedAt).toUTCString(),
      'Accept-Ranges': 'bytes',
      'Content-Security-Policy': "default-src 'none'; sandbox",
      'X-Content-Type-Options': 'nosniff',
      ...extraHeaders,
    };
    const inm = ex.req.headers['if-none-match'];
    if (inm && ex.req.method !== 'HEAD' && inm.split(',').some((t) => t.trim() === etag || t.trim() === '*')) {
      return ex.send(304, { ETag: etag });
    }
    const range = parseRange(ex.req.headers.range, f.size);
    if (range === 'unsatisfiable') throw new AppError('range_not_satisfiable', undefined, { 'Content-Range': `bytes */${f.size}` });
    const length = range ? range.end - range.start + 1 : f.size;
    if (range) headers['Content-Range'] = `bytes ${range.start}-${range.end}/${f.size}`;
    const status = range ? 206 : 200;
    if (ex.req.method !== 'HEAD' && this.cache.fits(f.size)) {
      const bytes = await this.smallBlob(f, gone);
      const part = range ? bytes.subarray(range.start, range.end + 1) : bytes;
      metrics.bytesOut.inc(part.length);
      return ex.send(status, headers, part);
    }
    if (ex.req.method === 'HEAD') return ex.send(status, { ...headers, 'Content-Length': length });
    if (length === 0) return ex.send(status, headers, Buffer.alloc(0));
    // Always an exact range: the backend then reads no more than it must. The data plane hands
    // over views of its own read buffer (no allocation or copy per chunk).
    await this.dataPlane.sendBlob(f.blob, range ?? { start: 0, end: f.size - 1 }, bodySink(ex, status, headers, length)).catch(blobGone(gone));
  }
}

/** A blob deleted since its record was read is the route's own 404 (`upload_not_found`, ...). */
const blobGone = (gone: ErrorCode) => (err: unknown) => {
  throw isAppError(err) && err.code === 'not_found' ? new AppError(gone) : err;
};
