import { AppError, isAppError, metrics, reprDigest, type BlobSink, type BlobTransfer, type ByteRange, type DataPlane, type ErrorCode, type Sent } from '@fileshare/shared';
import type { BlobCache } from '../cache/blob-cache.js';
import { contentDisposition } from './disposition.js';
import type { Exchange } from './exchange.js';
import { parseRange } from './range.js';

/** What a downloadable thing (an upload, a session file) looks like to `Downloads.send`. */
export interface Downloadable {
  blob: string;
  size: number;
  name: string;
  contentType: string;
  sha256: string;
  modifiedAt: number;
}

/**
 * File downloads: headers of API.md, conditional GET (If-None-Match), Range (206/416) with If-Range, HEAD
 * without body. Small blobs come from the cache (read whole once); the rest is streamed from the
 * data plane with backpressure, as views of its read buffer (BodySender).
 */
export class Downloads {
  private readonly headersOf = new WeakMap<Downloadable, { extra: Record<string, string>; headers: Record<string, string | number> }>();

  constructor(
    private readonly dataPlane: DataPlane,
    private readonly cache: BlobCache,
  ) {}

  /**
   * `gone` is the route's 404 for a blob deleted since its record was read. `sent`, when given, is
   * told once what the response delivered (one-time links count deliveries): null for HEAD, 304,
   * 416 and errors before the body; else the bytes handed to the socket and whether the response
   * completed. It may be told after this resolves (a streamed body ends later).
   * Nothing returned: answered in this turn (a cached small blob, HEAD, 304, 416 thrown).
   */
  send(ex: Exchange, f: Downloadable, gone: ErrorCode, extraHeaders: Record<string, string> = {}, sent?: (s: Sent) => void): Promise<void> | void {
    // Downloads nobody counts (the hot path) watch nothing.
    if (!sent) return this.respond(ex, f, gone, extraHeaders);
    return this.sendCounted(ex, f, gone, extraHeaders, sent);
  }

  private async sendCounted(ex: Exchange, f: Downloadable, gone: ErrorCode, extraHeaders: Record<string, string>, sent: (s: Sent) => void): Promise<void> {
    let told = false;
    const watch: Watch = { streaming: false, tell: (s: Sent) => void (told || ((told = true), sent(s))) };
    try {
      await this.respond(ex, f, gone, extraHeaders, watch);
    } finally {
      // Refused, or answered without a streamed body: told already, or nothing was delivered.
      if (!watch.streaming) watch.tell(null);
    }
  }

  /**
   * The headers every response of `f` carries, built once per (representation, extra headers)
   * object pair: a record kept by a cache is downloaded many times, and dates, the digest and the
   * disposition cost more to format than to send. Shared: callers copy before adding to it.
   */
  private representation(f: Downloadable, extraHeaders: Record<string, string>): Readonly<Record<string, string | number>> {
    const memo = this.headersOf.get(f);
    if (memo?.extra === extraHeaders) return memo.headers;
    const headers = {
      'Content-Type': f.contentType || 'application/octet-stream',
      'Content-Disposition': contentDisposition(f.name),
      ETag: `"${f.sha256}"`,
      'Last-Modified': new Date(f.modifiedAt).toUTCString(),
      'Accept-Ranges': 'bytes',
      'Repr-Digest': reprDigest(f.sha256),
      'Content-Security-Policy': "default-src 'none'; sandbox",
      'X-Content-Type-Options': 'nosniff',
      ...extraHeaders,
    };
    // Frozen: shared by every response of `f`, and written as one encoded block (Exchange.writeHead).
    Object.freeze(headers);
    this.headersOf.set(f, { extra: extraHeaders, headers });
    return headers;
  }

  private respond(ex: Exchange, f: Downloadable, gone: ErrorCode, extraHeaders: Record<string, string>, watch?: Watch): Promise<void> | void {
    const etag = `"${f.sha256}"`;
    let headers = this.representation(f, extraHeaders);
    const inm = ex.req.headers['if-none-match'];
    if (inm && ex.req.method !== 'HEAD' && inm.split(',').some((t) => t.trim() === etag || t.trim() === '*')) {
      return ex.send(304, { ETag: etag });
    }
    // If-Range: the range only of this very representation (its ETag or exact date), else all of it.
    const ifRange = ex.req.headers['if-range'];
    const rangeAsked = ifRange === undefined || ifRange === etag || ifRange === headers['Last-Modified'] ? ex.req.headers.range : undefined;
    const range = parseRange(rangeAsked, f.size);
    if (range === 'unsatisfiable') throw new AppError('range_not_satisfiable', undefined, { 'Content-Range': `bytes */${f.size}` });
    const length = range ? range.end - range.start + 1 : f.size;
    if (range) headers = { ...headers, 'Content-Range': `bytes ${range.start}-${range.end}/${f.size}` };
    const status = range ? 206 : 200;
    if (ex.req.method !== 'HEAD' && this.cache.fits(f.size)) {
      // Cached: answered in this turn, no promise or closure (the hot path of small downloads).
      const cached = this.cache.get(f.blob);
      if (cached) return sendWhole(ex, status, headers, cached, range, watch);
      return this.readSmall(f, gone).then((bytes) => sendWhole(ex, status, headers, bytes, range, watch));
    }
    if (ex.req.method === 'HEAD') return ex.send(status, { ...headers, 'Content-Length': length });
    if (length === 0) {
      if (ex.open) watch?.tell({ start: 0, bytes: 0, complete: true });
      return ex.send(status, headers, Buffer.alloc(0));
    }
    // Always an exact range: the backend then reads no more than it must. The data plane hands
    // over views of its own read buffer (no allocation or copy per chunk).
    const start = range?.start ?? 0;
    const sink = bodySink(ex, status, headers, length, watch && { start, watch });
    return this.dataPlane.sendBlob(f.blob, range ?? { start, end: f.size - 1 }, sink).catch(blobGone(gone));
  }

  /** A small blob not in the cache, read whole once (the data plane's views copied out) and kept. */
  private async readSmall(f: Downloadable, gone: ErrorCode): Promise<Buffer> {
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
        this.dataPlane
          .sendBlob(f.blob, { start: 0, end: f.size - 1 }, sink)
          .catch(blobGone(gone))
          .catch(reject);
      });
    }
    if (got !== f.size) throw new Error(`blob ${f.blob}: stored size ${got} differs from the record (${f.size})`);
    this.cache.set(f.blob, bytes);
    return bytes;
  }
}

/** A small blob's response from its bytes in memory: all of them, or the range asked for. */
function sendWhole(ex: Exchange, status: number, headers: Record<string, string | number>, bytes: Buffer, range: ByteRange | undefined, watch?: Watch): void {
  const part = range ? bytes.subarray(range.start, range.end + 1) : bytes;
  metrics.bytesOut.inc(part.length);
  if (ex.open) watch?.tell({ start: range?.start ?? 0, bytes: part.length, complete: true });
  ex.send(status, headers, part);
}

/** What one download reports through: once its body streams, the BodySender tells how it ended. */
interface Watch {
  streaming: boolean;
  tell: (s: Sent) => void;
}

/** A blob deleted since its record was read is the route's own 404 (`upload_not_found`, ...). */
const blobGone = (gone: ErrorCode) => (err: unknown) => {
  throw isAppError(err) && err.code === 'not_found' ? new AppError(gone) : err;
};

/**
 * A response body of `size` bytes sent with backpressure: `tryEnd` each chunk; when the socket
 * is full, the unsent rest of the chunk is kept and finished from `onWritable`, then `resume` is
 * called (the chunk is a view of the data plane's read buffer: it is not copied). A source that
 * ends short, or fails, closes the connection (the status line is already out, so closing is the
 * only honest signal).
 */
class BodySender {
  private pending: Buffer | null = null;
  private pendingOffset = 0;
  private settled = false;

  constructor(
    private readonly ex: Exchange,
    private readonly size: number,
    /** Called once the kept chunk has been sent: the source may go on. */
    private readonly resume: () => void,
    /** Told once, when the response is over: body bytes handed to the socket, and whether all were. */
    private readonly onEnd?: (bytes: number, complete: boolean) => void,
  ) {
    metrics.downloadsInFlight.inc();
  }

  /** Status line and headers; false when the client is gone already. */
  begin(status: number, headers: Record<string, string | number>): boolean {
    if (this.ex.cork(() => this.ex.writeHead(status, headers))) return true;
    this.settle();
    return false;
  }

  /** Sends what the socket takes now. False: the rest of `chunk` is kept, wait for `resume`. */
  write(chunk: Buffer): boolean {
    const { ex } = this;
    if (!ex.open) return false;
    const res = ex.res;
    let accepted = true;
    ex.cork(() => {
      this.pendingOffset = res.getWriteOffset();
      const [ok, done] = res.tryEnd(chunk, this.size);
      if (done) this.complete();
      else if (!ok) {
        this.pending = chunk;
        accepted = false;
        res.onWritable(() => (ex.open && this.pending ? this.sendPending() : true));
      } else ex.bytesOut = res.getWriteOffset();
    });
    return accepted;
  }

  private sendPending(): boolean {
    const res = this.ex.res;
    const written = res.getWriteOffset() - this.pendingOffset;
    const [ok, done] = res.tryEnd(this.pending!.subarray(written), this.size);
    if (done) this.complete();
    else if (ok) this.ex.bytesOut = res.getWriteOffset();
    if (ok || done) {
      this.pending = null;
      this.resume();
    }
    return ok || done;
  }

  /** The source has nothing more: fine if everything was sent or is pending, else cut. */
  end(): void {
    if (this.ex.open && !this.pending) this.fail();
  }

  /** The source broke: close the connection. */
  fail(): void {
    if (this.ex.open) this.ex.cork(() => this.ex.res.close());
    this.settle();
  }

  private complete(): void {
    this.ex.bytesOut = this.size;
    this.settle(true);
  }

  /** Accounting, once: the response is over (sent, cut or aborted). */
  settle(complete = false): void {
    if (this.settled) return;
    this.settled = true;
    this.onEnd?.(this.ex.bytesOut, complete);
    metrics.downloadsInFlight.dec();
    metrics.bytesOut.inc(this.ex.bytesOut);
    this.ex.finish();
  }
}

/**
 * A download: a BlobSink that sends the data plane's views to the client (`size` > 0 bytes); the
 * status and headers go out when the data plane has found the blob. See DataPlane.sendBlob.
 */
function bodySink(
  ex: Exchange,
  status: number,
  headers: Record<string, string | number>,
  size: number,
  /** A counted download's watch, and where its body starts. */
  counted?: { start: number; watch: Watch },
): BlobSink {
  let transfer: BlobTransfer | undefined;
  let sender: BodySender | undefined;
  ex.onAbort(() => {
    transfer?.cancel();
    sender?.settle();
  });
  return {
    start(t) {
      transfer = t;
      let onEnd: ((bytes: number, complete: boolean) => void) | undefined;
      if (counted) {
        const { start, watch } = counted;
        watch.streaming = true;
        onEnd = (bytes, complete) => watch.tell({ start, bytes, complete });
      }
      sender = new BodySender(ex, size, () => t.resume(), onEnd);
      if (!sender.begin(status, headers)) t.cancel();
    },
    write: (view) => sender!.write(view),
    end: () => sender!.end(),
    fail: () => sender!.fail(),
  };
}
