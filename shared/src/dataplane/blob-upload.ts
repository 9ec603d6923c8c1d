/**
 * The upload side of the HTTP data plane: a chunked `PUT` written straight onto a pooled
 * keep-alive socket (see connections.ts), storage's JSON answer read from that socket's buffer.
 */
import { createHash } from 'node:crypto';
import type { Socket } from 'node:net';
import { Writable } from 'node:stream';
import { AppError } from '../errors.js';
import { deferred, type Deferred } from '../deferred.js';
import type { Connection, ConnectionPool } from './connections.js';
import { ResponseReader, wireError } from './response-reader.js';

export interface PutOptions {
  /** Request head lines after the request line (`name: value`). */
  headers: string[];
  /** Runs before the body ends; returns trailer lines (`name: value`). Failing aborts the request. */
  trailers?: () => Promise<string[]>;
  /** Hash the body (sha256) while sending it, and send the hex digest as this trailer. */
  digestTrailer?: string;
}

/**
 * Where one upload exchange is, besides what its ResponseReader has read:
 * - `connecting`: finding a replica (`connect`), nothing sent;
 * - `sending`: the body is going out (the head with the first chunk);
 * - `sent`: the whole request went out: the connection may be reused once the answer is read;
 * - `over`: the connection went back to the pool or was closed.
 */
type Phase = 'connecting' | 'sending' | 'sent' | 'over';

/**
 * One `PUT` on one pooled connection: storage's answer read from the connection's buffer into
 * `answer` (201: its body; anything else rejects with its API error). The connection goes back to
 * the pool only after a complete exchange (the whole request sent, the answer read, keep-alive).
 */
class Exchange<T> {
  readonly answer = deferred<T>({ unhandled: 'ignore' }); // the owner awaits it; never an unhandled rejection
  readonly reader: ResponseReader;
  phase: Phase = 'connecting';
  conn: Connection | undefined;
  /** The request line and headers, until they went out with the first bytes. */
  head: string | null;
  private url = '';
  private readonly onBytes: (view: Buffer) => boolean;

  constructor(
    private readonly pool: ConnectionPool,
    path: string,
    headers: string[],
  ) {
    ({ reader: this.reader, onBytes: this.onBytes } = answerReader(this.answer, (keepAlive) => this.finish(this.phase === 'sent' && keepAlive)));
    this.head = `PUT ${path} HTTP/1.1\r\nHost: storage\r\nTransfer-Encoding: chunked\r\n${headers.map((h) => `${h}\r\n`).join('')}\r\n`;
  }

  /** The replica `connect` found: the exchange reads its answers from now on. */
  attach(c: { url: string; conn: Connection }): void {
    ({ url: this.url, conn: this.conn } = c);
    this.phase = 'sending';
    c.conn.onBytes = this.onBytes;
    // The connection has forgotten this exchange already (Connection.closed).
    c.conn.onClose = () => {
      this.phase = 'over';
      this.answer.reject(new AppError('unavailable'));
    };
  }

  finish(reuse: boolean): void {
    if (this.phase === 'over' || !this.conn) return;
    this.phase = 'over';
    if (reuse) this.pool.release(this.url, this.conn);
    else this.conn.drop();
  }

  /** The body's end: the last chunk (`0`) and the trailer lines, after the head if nothing was sent yet. */
  end(lines: string[]): string {
    const text = `${this.head ?? ''}0\r\n${lines.map((l) => `${l}\r\n`).join('')}\r\n`;
    this.head = null;
    return text;
  }
}

/**
 * `PUT <path>` as a Writable, on the connection `connect` finds (before a byte is accepted: a
 * replica that cannot be reached is skipped there, while the upload can still go elsewhere).
 * A chunk's write callback runs once the socket took its bytes (BlobWriter lends chunks); what
 * arrived meanwhile goes out as one corked write. `answer` is storage's 201 body; any other status
 * rejects with its API error, and an early answer (storage refused mid-body) destroys the writer.
 */
export function putWriter<T>(
  pool: ConnectionPool,
  connect: () => Promise<{ url: string; conn: Connection }>,
  path: string,
  opts: PutOptions,
): { writer: Writable; answer: Promise<T> } {
  const ex = new Exchange<T>(pool, path, opts.headers);
  const answer = ex.answer;
  const hash = opts.digestTrailer ? createHash('sha256') : null;

  /**
   * A write the socket failed (EPIPE, reset): storage refused the body and closed, and its answer
   * (507 full disk, 413, …) is what the upload failed with, not the broken pipe a multipart parser
   * or the gateway's error mapper would take for the client's fault. The answer settles either way:
   * with storage's error, or 503 when the connection closed without one.
   */
  const refused = (err: Error, cb: (err?: Error | null) => void) => {
    answer.promise.then(
      () => cb(err),
      (apiErr: Error) => cb(apiErr),
    );
  };

  const writer = new Writable({
    highWaterMark: 256 * 1024,
    construct(cb) {
      connect().then(
        (c) => {
          ex.attach(c);
          cb();
        },
        (err: Error) => {
          answer.reject(err);
          cb(err);
        },
      );
    },
    writev(chunks, cb) {
      // An empty chunk would read as the body's end (`0\r\n`): it has nothing to send anyway.
      const bufs = chunks.map(({ chunk }) => chunk as Buffer).filter((b) => b.length > 0);
      if (bufs.length === 0) return cb();
      // Before the socket takes them: a lent chunk may be refilled once its callback ran.
      if (hash) for (const b of bufs) hash.update(b);
      writeChunks(ex.conn!.socket, ex.head, bufs, (err) => (err ? refused(err, cb) : cb()));
      ex.head = null;
    },
    final(cb) {
      Promise.resolve(opts.trailers?.() ?? [])
        .then((lines) => {
          if (ex.phase === 'over') throw new AppError('unavailable');
          if (hash) lines = [...lines, `${opts.digestTrailer}: ${hash.digest('hex')}`];
          ex.conn!.socket.write(ex.end(lines));
          ex.phase = 'sent';
          return answer.promise;
        })
        .then(() => cb(), cb);
    },
    destroy(err, cb) {
      if (!ex.reader.done) {
        answer.reject(err ?? new AppError('incomplete_body'));
        ex.finish(false);
      }
      cb(err);
    },
  });
  writer.on('error', () => undefined); // reported through `answer`
  answer.promise.catch((err: Error) => writer.destroy(err));
  return { writer, answer: answer.promise };
}

/**
 * `PUT <path>` of a body already in hand (a small form read whole): head, body and trailers go
 * out in one write, with no stream between; storage reads the same chunked request as putWriter's.
 * A write the socket fails settles through the connection's close (503) or storage's answer.
 */
export async function putWhole<T>(pool: ConnectionPool, connect: () => Promise<{ url: string; conn: Connection }>, path: string, opts: PutOptions, body: Buffer): Promise<T> {
  const ex = new Exchange<T>(pool, path, opts.headers);
  ex.attach(await connect());
  let lines: string[];
  try {
    lines = opts.trailers ? await opts.trailers() : [];
  } catch (err) {
    ex.finish(true); // nothing was sent: the connection is clean, back to the pool
    throw err;
  }
  if (ex.phase === 'over') throw new AppError('unavailable');
  if (opts.digestTrailer) lines.push(`${opts.digestTrailer}: ${createHash('sha256').update(body).digest('hex')}`);
  const socket = ex.conn!.socket;
  socket.cork(); // around writeChunks' own cork: everything leaves in one write
  // An empty chunk would read as the body's end: an empty body is the end alone.
  if (body.length > 0) {
    writeChunks(socket, ex.head, [body], () => undefined);
    ex.head = null;
  }
  socket.write(ex.end(lines));
  socket.uncork();
  ex.phase = 'sent';
  return ex.answer.promise;
}

/** `head` (when not sent yet) and `bufs` as HTTP chunks, in one corked write; `done` once the socket took the last. */
function writeChunks(socket: Socket, head: string | null, bufs: Buffer[], done: (err?: Error | null) => void): void {
  socket.cork();
  if (head) socket.write(head);
  bufs.forEach((buf, i) => {
    socket.write(`${buf.length.toString(16)}\r\n`);
    socket.write(buf);
    socket.write('\r\n', i === bufs.length - 1 ? done : undefined);
  });
  socket.uncork();
}

/**
 * Storage answers every PUT with a small JSON body: 201 is the answer, anything else its error (a
 * head that is not storage's: `unavailable`). `read(keepAlive)` once the answer is in.
 */
function answerReader<T>(answer: Deferred<T>, read: (keepAlive: boolean) => void): { reader: ResponseReader; onBytes: (view: Buffer) => boolean } {
  const reader = new ResponseReader({
    streams: () => false,
    onJson: (h, body) => {
      if (h.status === 201) answer.resolve(body as T);
      else answer.reject(wireError(body));
      read(h.keepAlive);
    },
  });
  const onBytes = (view: Buffer): boolean => {
    try {
      return reader.push(view);
    } catch (err) {
      answer.reject(err instanceof Error ? err : new Error(String(err)));
      read(false);
      return true;
    }
  };
  return { reader, onBytes };
}
