import { Readable } from 'node:stream';
import { AppError } from '@fileshare/shared';
import type { HttpResponse } from '../uws.js';
import type { Exchange } from './exchange.js';

/**
 * The request body as a Node Readable, fed from uWS `onData`. Backpressure: when the readable's
 * buffer is full (`push` returns false) the socket is paused; `_read` resumes it, unless the
 * request is finished or aborted. Every chunk is copied once: uWS reuses its ArrayBuffer.
 * An abort destroys the stream with `incomplete_body`, which fails whatever is consuming it.
 */
export class UwsBody extends Readable {
  received = 0;
  complete = false;
  private paused = false;

  constructor(
    private readonly res: HttpResponse,
    private readonly ex: Exchange,
  ) {
    super({ highWaterMark: 512 * 1024 });
    res.onData((ab, isLast) => {
      if (ab.byteLength > 0) {
        const chunk = Buffer.from(new Uint8Array(ab)); // a copy, not a view
        this.received += chunk.length;
        if (!this.push(chunk) && !isLast) {
          this.paused = true;
          res.pause();
        }
      }
      if (isLast) {
        this.complete = true;
        this.push(null);
      }
    });
    ex.onAbort(() => {
      if (!this.complete) this.destroy(new AppError('incomplete_body'));
    });
  }

  override _read(): void {
    if (this.paused && this.ex.open && !this.complete) {
      this.paused = false;
      this.res.resume();
    }
  }

  /** The whole body, refusing more than `limit` bytes with 413. */
  async readAll(limit: number): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of this) {
      size += (c as Buffer).length;
      if (size > limit) throw new AppError('body_too_large');
      chunks.push(c as Buffer);
    }
    return Buffer.concat(chunks);
  }
}
