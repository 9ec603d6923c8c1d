import { Readable, type Writable } from 'node:stream';
import { AppError, watchWrite } from '@fileshare/shared';
import type { HttpResponse } from '../uws.js';
import type { Exchange } from './exchange.js';

/** Size of a recycled receive buffer (uWS hands out at most 512 KiB per `onData`). */
const SLAB = 512 * 1024;
/**
 * Slabs one body may have lent to its writer, and all bodies together: a body's socket is
 * paused while it has `SLABS_OUT` out, or any out while the process has `SLABS_OUT_TOTAL` out
 * (100 concurrent uploads with 4 each took the gateway from 233 to 350 MB).
 */
const SLABS_OUT = 4;
const SLABS_OUT_TOTAL = 64;
let lent = 0;
/** Returned slabs kept for the next upload (8 MiB); more are left to the garbage collector. */
const SPARE_MAX = 16;
const spare: Buffer[] = [];
/** A 512 KiB slab: a returned one if any, else a new one. */
const takeSlab = () => spare.pop() ?? Buffer.allocUnsafeSlow(SLAB);
/** A slab nothing holds any more: kept for the next body, up to SPARE_MAX. */
const keepSlab = (slab: Buffer) => {
  if (spare.length < SPARE_MAX) spare.push(slab);
};
/** Readable chunks smaller than this are fresh copies even when recycling (a slab each would waste it). */
const RECYCLE_MIN = 64 * 1024;

/** A body being sent to a BlobWriter (`sendTo`): the slab being filled and the slabs lent out. */
interface Sending {
  dst: Writable;
  slab?: Buffer;
  filled: number;
  out: number;
  /** Finished or failed: bytes arriving after this are dropped. */
  settled: boolean;
  /** Failed: its slabs out were written off the budget then (a destroyed writer may never call back). */
  failed: boolean;
  fail(err: Error): void;
}

/** A body being read whole (`whole`): the buffer it fills. */
interface Gathering {
  buf: Buffer;
  at: number;
  resolve(body: Buffer): void;
  reject(err: Error): void;
}

/**
 * The request body, fed from uWS `onData` (uWS reuses its ArrayBuffer: every byte is copied
 * once). Three ways to consume it:
 * - as a Node Readable (JSON bodies, multipart): each chunk is copied into a fresh Buffer, or,
 *   for a consumer that gives chunks back (`recycleChunks`: multipart), large ones into the same
 *   recycled slabs. Backpressure: when the readable's buffer is full (`push` returns false) the
 *   socket is paused; `_read` resumes it, unless the request is finished or aborted.
 * - `sendTo(writer)` (raw uploads): chunks are copied into a few recycled 512 KiB slabs that
 *   are lent to the writer (a BlobWriter calls a write back once it no longer holds the chunk).
 *   A fresh buffer per chunk cost the gateway more than the bytes themselves: page faults on new
 *   memory and garbage collections driven by it (measured: ~70% → ~30% CPU at the same MB/s).
 * - `whole(length)` (small bodies of declared length): copied into one buffer of that length,
 *   handed over once complete — no stream, no chunk objects.
 * An abort fails whatever is consuming the body with `incomplete_body`.
 */
export class UwsBody extends Readable {
  received = 0;
  complete = false;
  private paused = false;
  /** Answered without it (refused early): the rest is read and dropped. */
  private dropping = false;
  private sending?: Sending;
  private gathering?: Gathering;
  /** Large Readable chunks go into recycled slabs (see `recycleChunks`). */
  private recycle = false;

  constructor(
    private readonly res: HttpResponse,
    private readonly ex: Exchange,
  ) {
    super({ highWaterMark: 512 * 1024 });
    res.onData((ab, isLast) => {
      if (isLast && this.paused) {
        // A pause is not immediate: over TLS uWS still hands over what it has already decrypted,
        // up to the body's end. A socket left paused after its body would never read the
        // connection's next request (the client waits until uWS times the connection out).
        this.paused = false;
        this.res.resume();
      }
      if (this.dropping) {
        this.received += ab.byteLength;
        this.complete ||= isLast;
        return;
      }
      if (this.sending) return this.lend(this.sending, ab, isLast);
      if (this.gathering) return this.gather(this.gathering, ab, isLast);
      if (ab.byteLength > 0) {
        const chunk = this.copy(ab);
        this.received += chunk.length;
        if (!this.push(chunk) && !isLast) this.pause_();
      }
      if (isLast) {
        this.complete = true;
        this.push(null);
      }
    });
    ex.onAbort(() => {
      if (this.complete) return;
      if (this.sending) this.sending.fail(new AppError('incomplete_body'));
      else if (this.gathering) this.gathering.reject(new AppError('incomplete_body'));
      else this.destroy(new AppError('incomplete_body'));
    });
  }

  /**
   * The consumer gives large chunks back (`giveBack`) once nothing holds a view of them: they are
   * then copied into recycled slabs instead of fresh buffers. Fresh memory for every chunk cost a
   * multipart upload more than parsing it: page faults, slower copies and garbage collections
   * (900 MB POST, all-in-one: ~4.4 s of CPU and ~250 MB/s, ~2.2 s and ~450 MB/s with slabs).
   */
  recycleChunks(): void {
    this.recycle = true;
  }

  /** Whether `chunk` is in a recycled slab (a slab's memory is its own: no other chunk shares it). */
  recycled(chunk: Buffer): boolean {
    return this.recycle && chunk.byteOffset === 0 && chunk.buffer.byteLength === SLAB;
  }

  /** A recycled chunk this body handed out, which nothing holds a view of any more: its slab is reused. */
  giveBack(chunk: Buffer): void {
    if (this.recycled(chunk)) keepSlab(Buffer.from(chunk.buffer, 0, SLAB));
  }

  /** A copy of uWS's bytes (it reuses its buffer): into a recycled slab when chunks come back (`recycleChunks`). */
  private copy(ab: ArrayBuffer): Buffer {
    if (!this.recycle || ab.byteLength < RECYCLE_MIN || ab.byteLength > SLAB) return Buffer.from(new Uint8Array(ab));
    const slab = takeSlab();
    slab.set(new Uint8Array(ab));
    return slab.subarray(0, ab.byteLength);
  }

  private pause_(): void {
    this.paused = true;
    this.res.pause();
  }

  private resume_(): void {
    if (this.paused && this.ex.open && !this.complete) {
      this.paused = false;
      this.res.resume();
    }
  }

  /**
   * The response goes out before this body was read (a refusal): what still arrives is read and
   * dropped, so that uWS can finish the response and close the connection cleanly. Call before
   * the response ends (a paused socket is resumed while the response is still writable).
   */
  discard(): void {
    if (this.dropping || this.complete) return;
    this.dropping = true;
    if (this.paused) {
      this.paused = false;
      this.res.resume();
    }
  }

  override _read(): void {
    if (!this.sending) this.resume_();
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

  /**
   * Writes the rest of the body to `dst` through recycled slabs and ends it. Resolves once `dst`
   * finished; on a failure of either side (`dst` erred or closed early, the client aborted) `dst`
   * is destroyed and the promise rejects with that error. Bytes already buffered as a Readable
   * (arrived before the route got here) are written first.
   */
  sendTo(dst: Writable): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.destroyed || this.sending) {
        // Aborted before the route got here (or sent twice): the writer gets nothing and is dropped.
        const err = this.errored ?? new AppError('incomplete_body');
        dst.destroy(err);
        return reject(err);
      }
      const s: Sending = {
        dst,
        filled: 0,
        out: 0,
        settled: false,
        failed: false,
        fail: (err) => {
          if (s.settled) return;
          s.settled = s.failed = true;
          lent -= s.out;
          dst.destroy(err);
          reject(err);
        },
      };
      watchWrite(
        dst,
        (err) => s.fail(err),
        () => {
          if (s.settled) return;
          s.settled = true;
          resolve();
        },
      );
      this.sending = s;
      for (let c: Buffer | null; (c = this.read() as Buffer | null) !== null;) dst.write(c);
      if (this.complete) return void dst.end();
      this.resume_();
    });
  }

  /**
   * The whole body, of `length` bytes (its Content-Length), as one buffer once it is complete.
   * Bytes already buffered as a Readable (arrived before the route got here) come first. Rejects
   * with `incomplete_body` on an abort. For small bodies: the buffer is allocated at once.
   */
  whole(length: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      if (this.destroyed || this.sending || this.gathering) return reject(this.errored ?? new AppError('incomplete_body'));
      const g: Gathering = { buf: Buffer.allocUnsafe(length), at: 0, resolve, reject };
      for (let c: Buffer | null; (c = this.read() as Buffer | null) !== null;) if (!this.put(g, c)) return;
      if (this.complete) return this.done(g);
      this.gathering = g;
      this.resume_();
    });
  }

  private gather(g: Gathering, ab: ArrayBuffer, isLast: boolean): void {
    this.received += ab.byteLength;
    if (!this.put(g, new Uint8Array(ab))) return;
    if (isLast) {
      this.complete = true;
      this.done(g);
    }
  }

  /** Copies bytes in; more than the declared length (uWS frames by it: never seen) fails the body. */
  private put(g: Gathering, bytes: Uint8Array): boolean {
    if (g.at + bytes.length > g.buf.length) {
      g.reject(new AppError('bad_request', 'body longer than its content-length'));
      g.at = Infinity;
      return false;
    }
    g.buf.set(bytes, g.at);
    g.at += bytes.length;
    return true;
  }

  private done(g: Gathering): void {
    if (g.at === g.buf.length) g.resolve(g.buf);
    else g.reject(new AppError('incomplete_body'));
  }

  private lend(s: Sending, ab: ArrayBuffer, isLast: boolean): void {
    if (s.settled) return; // failed, and answered: the rest of the body is dropped
    let bytes = new Uint8Array(ab);
    this.received += bytes.length;
    while (bytes.length > 0) {
      s.slab ??= takeSlab();
      const n = Math.min(bytes.length, SLAB - s.filled);
      s.slab.set(bytes.subarray(0, n), s.filled);
      s.filled += n;
      bytes = bytes.subarray(n);
      if (s.filled === SLAB) this.flush(s);
    }
    if (isLast) {
      this.complete = true;
      this.flush(s);
      s.dst.end();
      return;
    }
    // A writer with nothing to do gets what there is; a busy one gets full slabs.
    if (s.out === 0) this.flush(s);
    if (!mayLend(s)) this.pause_();
  }

  private flush(s: Sending): void {
    const slab = s.slab;
    if (!slab || s.filled === 0) return;
    const view = slab.subarray(0, s.filled);
    s.slab = undefined;
    s.filled = 0;
    s.out++;
    lent++;
    s.dst.write(view, (err) => {
      // After a failure the writer may still hold the slab: it is left to the garbage collector.
      if (s.failed) return;
      s.out--;
      lent--;
      if (err) return;
      keepSlab(slab);
      if (s.settled) return;
      if (s.out === 0 && !this.complete) this.flush(s);
      if (mayLend(s)) this.resume_();
    });
  }
}

/** Whether a body may lend one more slab (it always may when it has none out). */
function mayLend(s: Sending): boolean {
  return s.out === 0 || (s.out < SLABS_OUT && lent < SLABS_OUT_TOTAL);
}
