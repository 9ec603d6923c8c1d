/**
 * The download side of the HTTP data plane: `GET /blobs/<key>` with a Range on a pooled
 * keep-alive socket (see connections.ts), the body handed to a BlobSink as views of that
 * socket's read buffer. A socket reading into one reused buffer forwards at ~800-900 MB/s
 * (measured, same machine); through `http.request`, ~165 MB/s.
 */
import { HeadReader, JsonBody, wireError, type Connection, type ConnectionPool } from './connections.js';
import type { BlobSink, ByteRange } from './dataplane.js';

export class BlobReader {
  constructor(
    private readonly pool: ConnectionPool,
    private readonly secretHeader: string,
  ) {}

  /**
   * Streams `range` of blob `key` from the replica at `url` into `sink`. Rejects before
   * `sink.start` with the storage's API error, or with a connection error (the caller may try
   * another replica). A reused connection that turns out closed is retried once on a new one.
   */
  async send(url: string, key: string, range: ByteRange, sink: BlobSink): Promise<void> {
    const { conn, reused } = await this.pool.acquire(url);
    try {
      await this.exchange(url, conn, key, range, sink);
    } catch (err) {
      if (!reused || !(err as { beforeResponse?: boolean }).beforeResponse) throw err;
      const { conn: fresh } = await this.pool.acquire(url, true);
      await this.exchange(url, fresh, key, range, sink);
    }
  }

  private exchange(url: string, conn: Connection, key: string, range: ByteRange, sink: BlobSink): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const reader = new HeadReader();
      let answered = false;
      let remaining = 0;
      let keepAlive = true;
      let started = false;
      let errorBody: JsonBody | null = null;
      /** Every byte was handed to the sink. */
      let delivered = false;
      /** The sink still holds the last view (write returned false): the buffer is not free yet. */
      let held = false;
      /** The connection went back to the pool or was destroyed: this exchange is over. */
      let over = false;

      const done = (reuse: boolean) => {
        if (over) return;
        over = true;
        if (reuse && keepAlive) {
          conn.socket.resume(); // reading may have been paused for the last view
          this.pool.release(url, conn);
        } else conn.drop();
      };

      const body = (view: Buffer): boolean => {
        if (errorBody) {
          if (errorBody.push(view)) {
            done(true);
            reject(wireError(errorBody.value()));
          }
          return true;
        }
        if (view.length > remaining) view = view.subarray(0, remaining); // never more than announced
        remaining -= view.length;
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
        if (answered) return body(view);
        let got;
        try {
          got = reader.push(view);
        } catch (err) {
          done(false);
          reject(err);
          return true;
        }
        if (!got) return true;
        answered = true;
        ({ keepAlive } = got.head);
        remaining = got.head.length;
        if (got.head.status !== 206 && got.head.status !== 200) errorBody = new JsonBody(got.head.length);
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
        return body(view.subarray(got.bodyStart));
      };

      conn.onClose = (err) => {
        over = true;
        conn.drop();
        if (delivered) return; // the sink has every byte; only its last view may be pending
        if (started) return sink.fail(err);
        // Nothing of the response came: the request can be sent again.
        reject(Object.assign(err, { beforeResponse: !reader.started }));
      };

      const lines = [`GET /blobs/${encodeURIComponent(key)} HTTP/1.1`, 'Host: storage', `Range: bytes=${range.start}-${range.end}`];
      if (this.secretHeader) lines.push(this.secretHeader);
      conn.socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    });
  }
}
