import { Agent, request, type ClientRequest, type IncomingMessage } from 'node:http';
import { Writable } from 'node:stream';
import { AppError } from '../errors.js';
import type { StoredBlob } from '../records.js';
import { BlobReader, parseJson, wireError } from './blob-reader.js';
import type { BlobSink, BlobWriter, ByteRange, DataPlane } from './dataplane.js';

export const INTERNAL_SECRET_HEADER = 'x-fileshare-internal';
export const MAX_BYTES_HEADER = 'x-fileshare-max-bytes';

/**
 * The data plane over internal HTTP/1.1 keep-alive (distributed mode). Protocol, served by
 * the storage service:
 *   PUT /blobs            body = bytes (chunked); 201 {key,size,sha256} once durable
 *   GET /blobs/<key>      200/206 bytes; `Range: bytes=a-b` honoured
 *   errors                JSON {code,message} with the API's status
 * Several storage URLs are used round robin; one that refuses connections is tried last for a
 * few seconds (a killed replica), so the other replicas keep serving.
 */
export class HttpDataPlane implements DataPlane {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 256, keepAliveMsecs: 10_000 });
  private readonly reader: BlobReader;
  private next = 0;
  private readonly downUntil = new Map<string, number>();

  constructor(
    private readonly urls: string[],
    private readonly secret: string,
  ) {
    if (urls.length === 0) throw new Error('storage.urls is empty');
    if (/[\r\n]/.test(secret)) throw new Error('internal.secret must not contain line breaks');
    this.reader = new BlobReader(secret ? `${INTERNAL_SECRET_HEADER}: ${secret}` : '');
  }

  /** Replicas in the order to try: round robin, those recently refusing connections last. */
  private order(): string[] {
    const start = this.next++ % this.urls.length;
    const now = Date.now();
    const ring = [...this.urls.slice(start), ...this.urls.slice(0, start)];
    return [...ring.filter((u) => (this.downUntil.get(u) ?? 0) <= now), ...ring.filter((u) => (this.downUntil.get(u) ?? 0) > now)];
  }

  private markDown(url: string, err: NodeJS.ErrnoException): boolean {
    const connectFailure = ['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE'].includes(err.code ?? '');
    if (connectFailure) this.downUntil.set(url, Date.now() + 3000);
    return connectFailure;
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return this.secret ? { ...extra, [INTERNAL_SECRET_HEADER]: this.secret } : extra;
  }

  /**
   * Connects to a storage replica before accepting a byte: a replica that refuses (killed,
   * restarting) is skipped for the next one, so no upload fails for a replica that is gone
   * before the upload began. Once bytes flow, a failure fails the upload (503): the stream
   * cannot be replayed.
   */
  private connectPut(maxBytes: number): Promise<ClientRequest> {
    return this.firstReachable(async (url) => {
      const req = request(`${url}/blobs`, {
        method: 'PUT',
        agent: this.agent,
        headers: this.headers({ 'content-type': 'application/octet-stream', [MAX_BYTES_HEADER]: String(maxBytes) }),
      });
      try {
        await new Promise<void>((resolve, reject) => {
          req.once('error', reject);
          req.once('socket', (sock) => {
            if (!sock.connecting) return resolve();
            sock.once('connect', () => resolve());
          });
        });
      } catch (err) {
        req.destroy();
        throw err;
      }
      req.removeAllListeners('error');
      return req;
    });
  }

  /**
   * Runs `attempt` against each replica in `order()` until one can be reached. A connection
   * failure marks the replica down and moves on; an API error (AppError) or any other failure is
   * the answer. Nobody reachable: 503.
   */
  private async firstReachable<T>(attempt: (url: string) => Promise<T>): Promise<T> {
    let lastErr: unknown;
    for (const url of this.order()) {
      try {
        return await attempt(url);
      } catch (err) {
        if (err instanceof AppError) throw err;
        lastErr = err;
        if (!this.markDown(url, err as NodeJS.ErrnoException)) break;
      }
    }
    throw Object.assign(new AppError('unavailable'), { cause: lastErr });
  }

  createBlob(opts: { maxBytes: number }): BlobWriter {
    let req: ClientRequest | undefined;
    let stored = false;
    let settle!: { resolve: (b: StoredBlob) => void; reject: (e: Error) => void };
    const done = new Promise<StoredBlob>((resolve, reject) => (settle = { resolve, reject }));
    done.catch(() => undefined); // the owner awaits it; never an unhandled rejection
    const connect = this.connectPut.bind(this);
    const writer = new Writable({
      highWaterMark: 256 * 1024,
      construct(cb) {
        connect(opts.maxBytes).then((r) => {
          req = r;
          r.on('response', (res) =>
            readJson(res).then(
              (body) => (res.statusCode === 201 ? settle.resolve(body as StoredBlob) : settle.reject(wireError(body))),
              settle.reject,
            ),
          );
          r.on('error', () => settle.reject(new AppError('unavailable')));
          cb();
        }, (err) => {
          settle.reject(err);
          cb(err);
        });
      },
      // A chunk's callback runs once the socket has taken its bytes (BlobWriter lends chunks):
      // what arrived meanwhile goes out as one corked write.
      writev(chunks, cb) {
        req!.cork();
        chunks.forEach(({ chunk }, i) => req!.write(chunk, i === chunks.length - 1 ? (err) => cb(err) : undefined));
        req!.uncork();
      },
      final(cb) {
        req!.end();
        done.then(() => {
          stored = true;
          cb();
        }, cb);
      },
      destroy(err, cb) {
        if (req && !req.writableFinished) req.destroy();
        if (!stored) settle.reject(err ?? new AppError('incomplete_body'));
        cb(err);
      },
    }) as Writable & { done: Promise<StoredBlob> };
    writer.on('error', () => undefined); // reported through `done`
    // If storage answers early (error), stop accepting bytes.
    done.catch((err) => writer.destroy(err));
    writer.done = done;
    return writer;
  }

  /**
   * Downloads: `GET /blobs/<key>` with a Range, read by BlobReader into a reused socket buffer (see
   * there). Reads are idempotent: a replica that cannot be reached is skipped for the next one.
   */
  sendBlob(key: string, range: ByteRange, sink: BlobSink): Promise<void> {
    return this.firstReachable((url) => this.reader.send(url, key, range, sink));
  }

  async ping(): Promise<void> {
    const url = this.order()[0];
    await new Promise<void>((resolve, reject) => {
      const req = request(`${url}/readyz`, { agent: this.agent, timeout: 2000 }, (res) => {
        res.resume();
        res.statusCode === 200 ? resolve() : reject(new AppError('unavailable'));
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => reject(new AppError('unavailable')));
      req.end();
    });
  }

  close(): void {
    this.agent.destroy();
    this.reader.close();
  }
}

async function readJson(res: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  return parseJson(Buffer.concat(chunks));
}
