/**
 * The download side of the HTTP data plane: `GET /blobs/<key>` with a Range on a pooled
 * keep-alive socket (see connections.ts), the body handed to a BlobSink as views of that
 * socket's read buffer. A socket reading into one reused buffer forwards at ~800-900 MB/s
 * (measured, same machine); through `http.request`, ~165 MB/s.
 */
import type { Connection, ConnectionPool } from './connections.js';
import type { BlobSink, ByteRange } from './dataplane.js';
import { ResponseReader, wireError } from './response-reader.js';

/**
 * Where one download exchange is, besides what its ResponseReader has read:
 * - `waiting`: no response head yet;
 * - `streaming`: the sink started and takes views;
 * - `held`: every byte was handed over, but the sink still holds the last view (the read buffer
 *   is not free until it calls `resume`);
 * - `over`: the connection went back to the pool or was closed.
 */
type Phase = 'waiting' | 'streaming' | 'held' | 'over';

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
      let phase: Phase = 'waiting';

      const finish = (reuse: boolean) => {
        if (phase === 'over') return;
        phase = 'over';
        if (reuse && reader.response?.keepAlive) {
          conn.socket.resume(); // reading may have been paused for the last view
          this.pool.release(url, conn);
        } else conn.drop();
      };

      const reader = new ResponseReader({
        streams: (status) => status === 200 || status === 206,
        onHead: () => {
          phase = 'streaming';
          sink.start({
            resume: () => {
              if (phase === 'held') finish(true);
              else if (phase === 'streaming') conn.socket.resume();
            },
            cancel: () => finish(false),
          });
          resolve();
        },
        onBody: (view, last) => {
          const more = view.length === 0 || sink.write(view);
          if (last) {
            if (more) finish(true);
            else if (phase === 'streaming') phase = 'held';
            sink.end();
          }
          return more;
        },
        onJson: (_head, body) => {
          finish(true);
          reject(wireError(body));
        },
      });

      conn.onBytes = (view) => {
        try {
          return reader.push(view);
        } catch (err) {
          finish(false);
          reject(err instanceof Error ? err : new Error(String(err)));
          return true;
        }
      };

      conn.onClose = (err) => {
        const was = phase;
        phase = 'over';
        conn.drop();
        if (was === 'held' || reader.done) return; // the sink has every byte; only its last view may be pending
        if (was === 'streaming') return sink.fail(err);
        // Nothing of the response came: the request can be sent again.
        reject(Object.assign(err, { beforeResponse: !reader.started }));
      };

      const lines = [`GET /blobs/${encodeURIComponent(key)} HTTP/1.1`, 'Host: storage', `Range: bytes=${range.start}-${range.end}`];
      if (this.secretHeader) lines.push(this.secretHeader);
      conn.socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    });
  }
}
