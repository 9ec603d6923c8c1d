import type { Readable } from 'node:stream';
import type { BlobWriter } from '@fileshare/shared';
import { UwsBody } from './body.js';
import type { MultipartLimits } from './multipart.js';
import { type FormHead, readFormHead } from './simple-form.js';

/**
 * Bytes of a body read before its file part's data must begin for the form to be streamed as a
 * plain form (text fields before the file, beyond this, are busboy's to read).
 */
export const PLAIN_HEAD_MAX = 64 * 1024;

/** What the streamed plain path hands over to its caller (multipart.ts). */
export interface PlainFormTarget {
  readonly failed: boolean;
  fail(err: unknown): void;
  /** The head was read: the file part's data begins; its writer (undefined: failed). */
  file(head: FormHead): BlobWriter | undefined;
  /** A write was made: the body pauses if the writer (or the parser) is full. */
  wrote(): void;
  /** A write was called back: the body flows again if there is room. */
  room(): void;
  /** Not a plain form: busboy reads the body from these chunks on (`ended`: the body has no more). */
  notPlain(chunks: Buffer[], ended: boolean): void;
  /** The file part ended: busboy reads the rest of the form from these chunks on, after `head`. */
  rest(chunks: Buffer[], ended: boolean, head: FormHead): void;
}

/**
 * Reads a multipart body as it arrives when it is a plain form (see `readFormHead`: no preamble,
 * text fields, then the `file` part), and cuts the file part's data out of the body's chunks with
 * `Buffer.indexOf` of the delimiter, writing each piece to the writer as a view of its chunk. What
 * follows the file part (more fields, the closing delimiter) is handed to busboy, primed with the
 * boundary line, so its answer is busboy's; so is a whole body whose head is not plain. busboy's
 * own search and its two streams per part cost the all-in-one process ~0.4 s of CPU per 900 MB
 * POST, a fifth of it (docs/performance.md).
 *
 * A delimiter may be split across chunks: a chunk's last bytes from the first CR among its
 * `delimiter.length - 1` last ones are copied and held until the next chunk says whether they
 * begin it. Flow control is multipart.ts's (`wrote`, `room`). A recycled chunk (UwsBody) is given
 * back once its piece is written.
 */
export function streamPlainForm(body: Readable, delimiter: Buffer, limits: MultipartLimits, to: PlainFormTarget): void {
  const uws = body instanceof UwsBody ? body : null;
  const head: Buffer[] = [];
  let headBytes = 0;
  let tried = 0;
  let bodyEnded = false;
  /** The body went to busboy (the file part's data ended, or the form is not plain). */
  let handedOver = false;
  let form: FormHead | undefined;
  let writer: BlobWriter | undefined;
  /** Copied bytes at the end of the data read so far that may begin the delimiter. */
  let held: Buffer | undefined;

  const onData = (chunk: Buffer) => {
    if (to.failed) return;
    if (writer) return data(chunk);
    head.push(chunk);
    headBytes += chunk.length;
    // Tried again once the bytes doubled (a body dribbled a byte at a time is not re-read per byte).
    if (headBytes < 2 * tried && headBytes <= PLAIN_HEAD_MAX) return;
    tried = headBytes;
    readHead();
  };
  const onEnd = () => {
    bodyEnded = true;
    if (to.failed) return;
    if (!writer) readHead();
    // Still this path's (busboy has not taken the body): the file part's data never ended.
    if (!handedOver && !to.failed) to.fail(new Error('the body ended inside the file part'));
  };

  /** Tries the head in the bytes so far: the file part begins, or the body goes to busboy. */
  const readHead = () => {
    const buf = head.length === 1 ? head[0] : Buffer.concat(head, headBytes);
    const r = readFormHead(buf, delimiter, limits);
    if (r === 'more' && !bodyEnded && headBytes <= PLAIN_HEAD_MAX) return;
    if (r === null || r === 'more') return handOver(() => to.notPlain(head, bodyEnded));
    form = r;
    writer = to.file(r);
    if (!writer) return;
    // The first data: in a chunk of the body, or in the copy of the head's chunks.
    scan(buf, r.dataStart, head.length === 1);
  };

  /** A chunk in the file part's data: first settles the bytes held from the last one. */
  const data = (chunk: Buffer) => {
    if (held) {
      const h = held;
      held = undefined;
      // A short chunk joins the held bytes (a delimiter can span several); else its first bytes say.
      if (chunk.length < delimiter.length) return scan(Buffer.concat([h, chunk]), 0, false);
      const k = Buffer.concat([h, chunk.subarray(0, delimiter.length - 1)]).indexOf(delimiter);
      // A delimiter found there begins in the held bytes (they are fewer than its length).
      if (k >= 0) return ended(h.subarray(0, k), chunk, k + delimiter.length - h.length);
      write(h);
    }
    scan(chunk, 0, true);
  };

  /** `chunk` from `at` is file data up to a delimiter, if it holds one. `own`: a chunk of the body (maybe recycled). */
  const scan = (chunk: Buffer, at: number, own: boolean) => {
    const k = chunk.indexOf(delimiter, at);
    if (k >= 0) return ended(chunk.subarray(at, k), chunk, k + delimiter.length);
    const cr = chunk.indexOf(0x0d, Math.max(at, chunk.length - (delimiter.length - 1)));
    if (cr >= 0) held = Buffer.from(chunk.subarray(cr));
    write(chunk.subarray(at, cr >= 0 ? cr : chunk.length), own && uws?.recycled(chunk) ? chunk : undefined);
  };

  /** The file part's data ends with `last`; the rest of the form, from `chunk` at `restAt`, is busboy's. */
  const ended = (last: Buffer, chunk: Buffer, restAt: number) => {
    write(last);
    writer!.end();
    handOver(() => to.rest([delimiter.subarray(2), chunk.subarray(restAt)], bodyEnded, form!));
  };

  /**
   * Writes a piece. `recycle`: the body chunk it is a view of, given back once written (the chunk
   * a delimiter ends in is not: busboy reads on from it).
   */
  const write = (piece: Buffer, recycle?: Buffer) => {
    if (piece.length === 0) {
      if (recycle) uws!.giveBack(recycle);
      return;
    }
    writer!.write(piece, (err) => {
      // After a failure the writer may still hold the chunk: it is left to the garbage collector.
      if (err || to.failed) return;
      if (recycle) uws!.giveBack(recycle);
      to.room();
    });
    to.wrote();
  };

  /** The body is busboy's from here: this path lets go of its events first. */
  const handOver = (then: () => void) => {
    handedOver = true;
    body.off('data', onData);
    body.off('end', onEnd);
    then();
  };

  body.on('data', onData);
  body.once('end', onEnd);
}
