/**
 * The download side of the HTTP data plane without Node's HTTP client: `GET /blobs/<key>` with
 * a Range on a keep-alive socket that reads into its own fixed buffer (`net` `onread`), and hands
 * the body to a BlobSink as views of that buffer.
 *
 * Why: through `http.request` every 64 KiB of a download was read into a fresh allocation and
 * copied once more by the parser into another; on this VM the page faults and GC that this
 * causes held a distributed download to ~165 MB/s while storage alone served ~1 GB/s. A socket
 * reading into one reused buffer forwards at ~800-900 MB/s (measured, same machine).
 *
 * The peer is our own storage service, which answers a ranged GET with `206` and a
 * Content-Length (never chunked), and errors with a small JSON body and `Connection: close`.
 */
import { connect, type Socket } from 'node:net';
import { AppError, errorFromWire } from '../errors.js';
import type { BlobSink, ByteRange } from './dataplane.js';

const READ_BUFFER = 256 * 1024;
/** Idle connections are closed well before the storage server drops them (keepAliveTimeout 65 s). */
const IDLE_MS = 30_000;
const MAX_IDLE_PER_URL = 16;
const HEAD_LIMIT = 16 * 1024;

class Connection {
  readonly socket: Socket;
  /** The response in progress: gets each read; returning false pauses reading. */
  onBytes: ((view: Buffer) => boolean) | null = null;
  /** The connection ended or failed while a response was in progress. */
  onClose: ((err: Error) => void) | null = null;
  idleTimer?: NodeJS.Timeout;
  readonly connected: Promise<void>;

  constructor(host: string, port: number) {
    const buffer = Buffer.allocUnsafeSlow(READ_BUFFER);
    this.socket = connect({
      host,
      port,
      onread: {
        buffer,
        // Bytes nobody asked for (between responses) mean the stream is out of step: drop it.
        callback: (n) => (this.onBytes ? this.onBytes(buffer.subarray(0, n)) : void this.socket.destroy()) !== false,
      },
    });
    this.socket.setNoDelay(true);
    this.connected = new Promise((resolve, reject) => {
      this.socket.once('connect', resolve);
      this.socket.once('error', reject);
    });
    this.connected.catch(() => undefined);
    this.socket.on('error', (err) => this.closed(err));
    this.socket.on('close', () => this.closed(Object.assign(new Error('storage closed the connection'), { code: 'ECONNRESET' })));
  }

  private closed(err: Error): void {
    const onClose = this.onClose;
    this.onBytes = this.onClose = null;
    onClose?.(err);
  }

  get usable(): boolean {
    return !this.socket.destroyed && this.socket.readyState === 'open';
  }
}

export class BlobReader {
  private readonly idle = new Map<string, Connection[]>();

  constructor(private readonly secretHeader: string) {}

  private async acquire(url: string, fresh = false): Promise<{ conn: Connection; reused: boolean }> {
    const list = this.idle.get(url);
    while (!fresh && list?.length) {
      const conn = list.pop()!;
      clearTimeout(conn.idleTimer);
      if (conn.usable) return { conn, reused: true };
    }
    const u = new URL(url);
    const conn = new Connection(u.hostname, Number(u.port) || 80);
    await conn.connected;
    return { conn, reused: false };
  }

  private release(url: string, conn: Connection): void {
    const list = this.idle.get(url) ?? [];
    this.idle.set(url, list);
    if (!conn.usable || list.length >= MAX_IDLE_PER_URL) return void conn.socket.destroy();
    conn.idleTimer = setTimeout(() => {
      const i = list.indexOf(conn);
      if (i >= 0) list.splice(i, 1);
      conn.socket.destroy();
    }, IDLE_MS).unref();
    list.push(conn);
  }

  /**
   * Streams `range` of blob `key` from the replica at `url` into `sink`. Rejects before
   * `sink.start` with the storage's API error, or with a connection error (the caller may try
   * another replica). A reused connection that turns out closed is retried once on a new one.
   */
  async send(url: string, key: string, range: ByteRange, sink: BlobSink): Promise<void> {
    const { conn, reused } = await this.acquire(url);
    try {
      await this.exchange(url, conn, key, range, sink);
    } catch (err) {
      if (!reused || !(err as { beforeResponse?: boolean }).beforeResponse) throw err;
      const { conn: fresh } = await this.acquire(url, true);
      await this.exchange(url, fresh, key, range, sink);
    }
  }

  private exchange(url: string, conn: Connection, key: string, range: ByteRange, sink: BlobSink): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let head = '';
      let status = 0;
      let remaining = 0;
      let keepAlive = true;
      let started = false;
      let errorBody: Buffer[] | null = null;
      /** Every byte was handed to the sink. */
      let delivered = false;
      /** The sink still holds the last view (write returned false): the buffer is not free yet. */
      let held = false;
      /** The connection went back to the pool or was destroyed: this exchange is over. */
      let over = false;

      const done = (reuse: boolean) => {
        if (over) return;
        over = true;
        conn.onBytes = conn.onClose = null;
        if (reuse && keepAlive) {
          conn.socket.resume(); // reading may have been paused for the last view
          this.release(url, conn);
        } else conn.socket.destroy();
      };
      const refuse = (err: Error) => {
        done(false);
        reject(err);
        return true;
      };

      const body = (view: Buffer): boolean => {
        if (view.length > remaining) view = view.subarray(0, remaining); // never more than announced
        remaining -= view.length;
        if (errorBody) {
          errorBody.push(Buffer.from(view));
          if (remaining === 0) {
            done(true);
            reject(wireError(parseJson(Buffer.concat(errorBody))));
          }
          return true;
        }
        const more = view.length === 0 || sink.write(view);
        if (remaining === 0) {
          delivered = true;
          held = !more;
          if (!held) done(true);
          sink.end();
        }
        return more;
      };

      conn.onBytes = (view) => {
        if (status !== 0) return body(view);
        head += view.toString('latin1');
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return head.length > HEAD_LIMIT ? refuse(new AppError('unavailable')) : true;
        const bodyStart = view.length - (head.length - (end + 4));
        head = head.slice(0, end);
        status = Number(head.slice(9, 12));
        keepAlive = !/\r\nconnection:\s*close/i.test(head);
        const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
        if (!length) return refuse(new AppError('unavailable'));
        remaining = Number(length[1]);
        if (status !== 206 && status !== 200) errorBody = [];
        else {
          started = true;
          sink.start({
            resume: () => {
              if (over) return;
              if (!held) return void conn.socket.resume();
              held = false;
              done(true);
            },
            cancel: () => done(false),
          });
          resolve();
        }
        return body(view.subarray(bodyStart));
      };

      conn.onClose = (err) => {
        over = true;
        conn.onBytes = conn.onClose = null;
        conn.socket.destroy();
        if (delivered) return; // the sink has every byte; only its last view may be pending
        if (started) return sink.fail(err);
        // Nothing of the response came: the request can be sent again.
        reject(Object.assign(err, { beforeResponse: head === '' }));
      };

      const lines = [`GET /blobs/${encodeURIComponent(key)} HTTP/1.1`, 'Host: storage', `Range: bytes=${range.start}-${range.end}`];
      if (this.secretHeader) lines.push(this.secretHeader);
      conn.socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    });
  }

  close(): void {
    for (const list of this.idle.values()) for (const c of list.splice(0)) c.socket.destroy();
  }
}

/** The AppError a storage error body (`{code,message}`) stands for; anything else is 500. */
export function wireError(body: unknown): AppError {
  const b = (body ?? {}) as { code?: string; message?: string };
  return errorFromWire(b.code, b.message);
}

/** A JSON body, or `{}` when it is not JSON (used for storage's answers by both data-plane clients). */
export function parseJson(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    return {};
  }
}
