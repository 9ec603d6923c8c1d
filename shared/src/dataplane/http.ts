import { Agent, request, type ClientRequest, type IncomingMessage } from 'node:http';
import { Writable, type Readable } from 'node:stream';
import { AppError, errorFromWire } from '../errors.js';
import type { StoredBlob } from '../records.js';
import type { BlobWriter, ByteRange, DataPlane } from './dataplane.js';

export const INTERNAL_SECRET_HEADER = 'x-fileshare-internal';
export const MAX_BYTES_HEADER = 'x-fileshare-max-bytes';

/**
 * The data plane over internal HTTP/1.1 keep-alive (distributed mode). Protocol, served by
 * the storage service:
 *   PUT /blobs            body = bytes (chunked); 201 {key,size,sha256} once durable
 *   GET /blobs/<key>      200/206 bytes; `Range: bytes=a-b` honoured
 *   errors                JSON {code,message} with the API's status
 * Several storage URLs are tried round robin; one that refuses connections is skipped for a
 * few seconds (a killed replica), so the other replicas keep serving.
 */
export class HttpDataPlane implements DataPlane {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 256, keepAliveMsecs: 10_000 });
  private next = 0;
  private readonly downUntil = new Map<string, number>();

  constructor(
    private readonly urls: string[],
    private readonly secret: string,
  ) {
    if (urls.length === 0) throw new Error('storage.urls is empty');
  }

  private pick(): string {
    const now = Date.now();
    for (let i = 0; i < this.urls.length; i++) {
      const url = this.urls[this.next++ % this.urls.length];
      if ((this.downUntil.get(url) ?? 0) <= now) return url;
    }
    return this.urls[this.next++ % this.urls.length];
  }

  private markDown(url: string, err: NodeJS.ErrnoException): void {
    if (err.code === 'ECONNREFUSED' || err.code === 'ECONNRESET' || err.code === 'EHOSTUNREACH') this.downUntil.set(url, Date.now() + 3000);
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return this.secret ? { ...extra, [INTERNAL_SECRET_HEADER]: this.secret } : extra;
  }

  createBlob(opts: { maxBytes: number }): BlobWriter {
    const url = this.pick();
    const req: ClientRequest = request(`${url}/blobs`, {
      method: 'PUT',
      agent: this.agent,
      headers: this.headers({ 'content-type': 'application/octet-stream', [MAX_BYTES_HEADER]: String(opts.maxBytes) }),
    });
    let settle!: { resolve: (b: StoredBlob) => void; reject: (e: Error) => void };
    const done = new Promise<StoredBlob>((resolve, reject) => (settle = { resolve, reject }));
    done.catch(() => undefined); // the owner awaits it; never an unhandled rejection
    req.on('response', (res) =>
      readJson(res).then(
        (body) => (res.statusCode === 201 ? settle.resolve(body as StoredBlob) : settle.reject(wireError(body))),
        settle.reject,
      ),
    );
    req.on('error', (err) => {
      this.markDown(url, err);
      settle.reject(new AppError('unavailable'));
    });
    const writer = new Writable({
      highWaterMark: 256 * 1024,
      write(chunk: Buffer, _enc, cb) {
        if (req.write(chunk)) cb();
        else req.once('drain', () => cb());
      },
      final(cb) {
        req.end();
        done.then(() => cb(), cb);
      },
      destroy(err, cb) {
        if (!req.writableFinished) req.destroy();
        if (err) settle.reject(err);
        cb(err);
      },
    }) as Writable & { done: Promise<StoredBlob> };
    writer.on('error', () => undefined); // reported through `done`
    // If storage answers early (error), stop accepting bytes.
    done.catch((err) => writer.destroy(err));
    writer.done = done;
    return writer;
  }

  readBlob(key: string, range?: ByteRange): Promise<Readable> {
    const url = this.pick();
    return new Promise((resolve, reject) => {
      const req = request(`${url}/blobs/${encodeURIComponent(key)}`, {
        method: 'GET',
        agent: this.agent,
        headers: this.headers(range ? { range: `bytes=${range.start}-${range.end}` } : {}),
      });
      req.on('response', (res) => {
        if (res.statusCode === 200 || res.statusCode === 206) resolve(res);
        else readJson(res).then((b) => reject(wireError(b)), reject);
      });
      req.on('error', (err) => {
        this.markDown(url, err);
        reject(new AppError('unavailable'));
      });
      req.end();
    });
  }

  async ping(): Promise<void> {
    const url = this.pick();
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
  }
}

async function readJson(res: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return {};
  }
}

function wireError(body: unknown): AppError {
  const b = (body ?? {}) as { code?: string; message?: string };
  return errorFromWire(b.code, b.message);
}
