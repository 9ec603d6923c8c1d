/**
 * The upload side of the HTTP data plane: a chunked `PUT` written straight onto a pooled
 * keep-alive socket (see connections.ts), storage's JSON answer read from that socket's buffer.
 */
import { Writable } from 'node:stream';
import { AppError } from '../errors.js';
import { HeadReader, JsonBody, wireError, type Connection, type ConnectionPool } from './connections.js';

export interface PutOptions {
  /** Request head lines after the request line (`name: value`). */
  headers: string[];
  /** Runs before the body ends; returns trailer lines (`name: value`). Failing aborts the request. */
  trailers?: () => Promise<string[]>;
}

/**
 * `PUT <path>` as a Writable, on the connection `connect` finds (before a byte is accepted: a
 * replica that cannot be reached is skipped there, while the upload can still go elsewhere).
 * A chunk's write callback runs once the socket took its bytes (BlobWriter lends chunks); what
 * arrived meanwhile goes out as one corked write. `answer` is storage's 201 body; any other status
 * rejects with its API error, and an early answer (storage refused mid-body) destroys the writer.
 * The connection goes back to `pool` only after a complete exchange.
 */
export function putWriter<T>(pool: ConnectionPool, connect: () => Promise<{ url: string; conn: Connection }>, path: string, opts: PutOptions): { writer: Writable; answer: Promise<T> } {
  let settle!: { resolve: (b: T) => void; reject: (e: Error) => void };
  const answer = new Promise<T>((resolve, reject) => (settle = { resolve, reject }));
  answer.catch(() => undefined); // the owner awaits it; never an unhandled rejection
  let url = '';
  let conn: Connection | undefined;
  let head: string | null = `PUT ${path} HTTP/1.1\r\nHost: storage\r\nTransfer-Encoding: chunked\r\n${opts.headers.map((h) => `${h}\r\n`).join('')}\r\n`;
  /** The whole request went out: the connection may be reused once the answer is read. */
  let sent = false;
  let answered = false;
  /** The connection went back to the pool or was destroyed. */
  let over = false;

  const finish = (reuse: boolean) => {
    if (over || !conn) return;
    over = true;
    if (reuse) pool.release(url, conn);
    else conn.drop();
  };

  const reader = new HeadReader();
  let body: JsonBody | null = null;
  let status = 0;
  let keepAlive = true;
  const onBytes = (view: Buffer): boolean => {
    if (!body) {
      let got;
      try {
        got = reader.push(view);
      } catch (err) {
        settle.reject(err as Error);
        finish(false);
        return true;
      }
      if (!got) return true;
      ({ status, keepAlive } = got.head);
      body = new JsonBody(got.head.length);
      view = view.subarray(got.bodyStart);
    }
    if (!body.push(view)) return true;
    answered = true;
    if (status === 201) settle.resolve(body.value() as T);
    else settle.reject(wireError(body.value()));
    finish(sent && keepAlive);
    return true;
  };

  /**
   * A write the socket failed (EPIPE, reset): storage refused the body and closed, and its answer
   * (507 full disk, 413, …) is what the upload failed with, not the broken pipe a multipart parser
   * or the gateway's error mapper would take for the client's fault. The answer settles either way:
   * with storage's error, or 503 when the connection closed without one.
   */
  const refused = (err: Error, cb: (err?: Error | null) => void) => {
    answer.then(() => cb(err), (apiErr: Error) => cb(apiErr));
  };

  const writer = new Writable({
    highWaterMark: 256 * 1024,
    construct(cb) {
      connect().then((c) => {
        ({ url, conn } = c);
        conn.onBytes = onBytes;
        // The connection has forgotten this exchange already (Connection.closed).
        conn.onClose = () => {
          over = true;
          settle.reject(new AppError('unavailable'));
        };
        cb();
      }, (err) => {
        settle.reject(err);
        cb(err);
      });
    },
    writev(chunks, cb) {
      // An empty chunk would read as the body's end (`0\r\n`): it has nothing to send anyway.
      const bufs = chunks.map(({ chunk }) => chunk as Buffer).filter((b) => b.length > 0);
      if (bufs.length === 0) return cb();
      const socket = conn!.socket;
      socket.cork();
      if (head) socket.write(head);
      head = null;
      bufs.forEach((buf, i) => {
        socket.write(`${buf.length.toString(16)}\r\n`);
        socket.write(buf);
        socket.write('\r\n', i === bufs.length - 1 ? (err) => (err ? refused(err, cb) : cb()) : undefined);
      });
      socket.uncork();
    },
    final(cb) {
      Promise.resolve(opts.trailers?.() ?? [])
        .then((lines) => {
          if (over) throw new AppError('unavailable');
          conn!.socket.write(`${head ?? ''}0\r\n${lines.map((l) => `${l}\r\n`).join('')}\r\n`);
          head = null;
          sent = true;
          return answer;
        })
        .then(() => cb(), cb);
    },
    destroy(err, cb) {
      if (!answered) {
        settle.reject(err ?? new AppError('incomplete_body'));
        finish(false);
      }
      cb(err);
    },
  });
  writer.on('error', () => undefined); // reported through `answer`
  answer.catch((err) => writer.destroy(err));
  return { writer, answer };
}
