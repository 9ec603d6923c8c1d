import type { Readable, Writable } from 'node:stream';
import busboy from 'busboy';
import { AppError, isAppError, isMediaType, isStorageFull, type BlobWriter, watchWrite } from '@fileshare/shared';
import { UwsBody } from './body.js';
import { cleanFileName } from './disposition.js';
import { type PlainFormTarget, streamPlainForm } from './plain-form-stream.js';
import { type FormHead, plainDelimiter } from './simple-form.js';

export interface MultipartLimits {
  maxFields: number;
  maxFieldSize: number;
  maxNameLength: number;
}

export interface ReceivedForm<W extends BlobWriter> {
  /** The file part's writer: `pump` hands it the rest of the part and ends it; await its result. */
  writer: W;
  name: string;
  contentType: string;
  /** Text fields; a field sent twice keeps every value. */
  fields: Record<string, string[]>;
}

/** True for `multipart/form-data` (the boundary is checked by the parser). */
export const isMultipart = (contentType: string | undefined) => /^multipart\/form-data\s*(;|$)/i.test(contentType ?? '');

/**
 * Parse a multipart body as it arrives and stream its single `file` part into the writer `open`
 * makes when the part begins. Text fields may come before or after the file. Resolves once the
 * whole body is parsed, without waiting for the writer (an upload's writer waits for fields read
 * after the file: see `DataPlane.createUpload`); the caller awaits the writer's result. On a
 * failure while parsing the writer is destroyed and the promise rejects with the API error (400/413).
 *
 * A plain form (what clients send: see `readFormHead`) has its file part cut out of the body by
 * plain-form-stream.ts, and busboy reads only what follows it; any other form is busboy's whole
 * (`plain: false` makes every form busboy's: the reference the plain path is tested against).
 */
export function receiveMultipart<W extends BlobWriter>(
  body: Readable,
  contentType: string,
  open: () => W,
  limits: MultipartLimits,
  how: { plain?: boolean } = {},
): Promise<ReceivedForm<W>> {
  return new Promise((resolve, reject) => {
    const form = new Reception(body, contentType, open, limits, resolve, reject);
    if (body instanceof UwsBody) body.recycleChunks();
    body.on('error', form.fail);
    body.once('close', () => {
      if (!body.readableEnded) form.fail(new AppError('incomplete_body'));
    });
    const delimiter = how.plain === false ? null : plainDelimiter(contentType);
    if (delimiter) streamPlainForm(body, delimiter, limits, form);
    else form.notPlain([], false);
  });
}

/** One form being received: its fields and file part, read by the plain path, busboy, or both in turn. */
class Reception<W extends BlobWriter> implements PlainFormTarget {
  failed = false;
  private writer?: W;
  private name = 'file';
  private type = 'application/octet-stream';
  // No prototype: a field named "constructor" or "__proto__" is just a field.
  private fields = Object.create(null) as Record<string, string[]>;
  /** busboy, once it reads the body; `stop` stops it. */
  private parser?: { bb: busboy.Busboy; stop(): void };

  constructor(
    private readonly body: Readable,
    private readonly contentType: string,
    private readonly open: () => W,
    private readonly limits: MultipartLimits,
    private readonly resolve: (form: ReceivedForm<W>) => void,
    private readonly reject: (err: Error) => void,
  ) {}

  readonly fail = (err: unknown): void => {
    if (this.failed) return;
    this.failed = true;
    this.parser?.stop();
    this.body.destroy();
    this.writer?.destroy();
    this.reject(formError(err));
  };

  /** The file part begins: its writer (a failure of the writer fails the form); undefined when it could not be made. */
  file(head: Pick<FormHead, 'name' | 'contentType'>): W | undefined {
    this.name = head.name;
    this.type = head.contentType;
    try {
      this.writer = this.open();
    } catch (err) {
      return void this.fail(err);
    }
    watchWrite(this.writer, this.fail, () => undefined);
    return this.writer;
  }

  /**
   * Flow control: the file part always flows into the writer (the parser never waits on it), and
   * the body is paused instead while the parser or the writer holds twice its high-water mark. So
   * every piece of file data is in the writer as soon as it is cut, and the body's chunks can be
   * given back to be reused.
   */
  private full(): boolean {
    const bb = this.parser?.bb;
    const w = this.writer;
    return (bb !== undefined && bb.writableLength >= 2 * bb.writableHighWaterMark) || (w !== undefined && w.writableLength >= 2 * w.writableHighWaterMark);
  }

  wrote(): void {
    if (this.full()) this.body.pause();
  }

  room(): void {
    if (!this.failed && this.body.isPaused() && !this.full()) this.body.resume();
  }

  notPlain(chunks: Buffer[], ended: boolean): void {
    this.busboy(chunks, ended);
  }

  rest(chunks: Buffer[], ended: boolean, head: FormHead): void {
    this.fields = head.fields;
    this.busboy(chunks, ended, head.fieldCount);
  }

  /**
   * busboy reads the body from `chunks` on (taken from it already; `ended`: it has no more). With
   * `after`, it reads what follows a plain form's file part, primed with the boundary line: `after`
   * fields were read before, and no other file may come.
   *
   * Chunks are given back to be reused (`Recycler`; for a request's body, not for any other
   * Readable: a small form read whole and handed over as one).
   */
  private busboy(chunks: Buffer[], ended: boolean, after?: number): void {
    const { body, limits, fail } = this;
    const bb = parser(this.contentType, limits, after);
    if (!bb) return fail(new AppError('malformed_multipart'));
    const recycler = new Recycler(body instanceof UwsBody ? body : null);
    this.parser = {
      bb,
      stop: () => {
        recycler.stop();
        bb.destroy();
      },
    };
    /** A chunk into `dst`, followed by the recycler. */
    const feed = (dst: Writable, chunk: Buffer, take: (c: Buffer) => Held | undefined, back: (h: Held | undefined) => void) => {
      const held = take(chunk);
      dst.write(chunk, () => {
        back(held);
        this.room();
      });
      this.wrote();
    };

    bb.on('file', (field, stream, info) => {
      if (field !== 'file' || this.failed) return skip(stream);
      // A part's type that is not a media type (control bytes, no subtype) is not kept: it would
      // become a broken Content-Type header on every download.
      const type = info.mimeType && isMediaType(info.mimeType) ? info.mimeType : 'application/octet-stream';
      const w = this.file({ name: cleanFileName(info.filename, limits.maxNameLength), contentType: type });
      if (!w) return skip(stream);
      stream.on('error', fail);
      stream.on('data', (piece: Buffer) =>
        feed(
          w,
          piece,
          (p) => recycler.lent(p),
          (held) => recycler.returned(held),
        ),
      );
      recycler.file(true);
      stream.once('end', () => {
        recycler.file(false);
        w.end();
      });
      stream.once('close', () => {
        if (!stream.readableEnded) fail(new Error('file part closed before its end'));
      });
    });
    bb.on('field', (field, value, info) => {
      if (info.valueTruncated) return fail(new AppError('field_too_large'));
      if (field === 'file') return fail(new AppError('file_required')); // a "file" without a filename
      (this.fields[field] ??= []).push(value);
    });
    bb.on('filesLimit', () => fail(new AppError('too_many_files')));
    bb.on('fieldsLimit', () => fail(new AppError('too_many_fields')));
    bb.on('partsLimit', () => fail(new AppError('too_many_fields')));
    watchWrite(bb, fail, () => undefined);
    bb.on('close', () => {
      if (this.failed) return;
      if (!this.writer) return fail(new AppError('file_required'));
      this.resolve({ writer: this.writer, name: this.name, contentType: this.type, fields: this.fields });
    });

    const received = (chunk: Buffer) =>
      feed(
        bb,
        chunk,
        (c) => recycler.received(c),
        (held) => recycler.parsed(held),
      );
    for (const c of chunks) received(c);
    if (ended) return void bb.end();
    body.on('data', received);
    body.once('end', () => bb.end());
  }
}

/** A file part not kept is drained; cut short, busboy fails it too (the form's error says so). */
function skip(stream: Readable): void {
  stream.on('error', () => undefined).resume();
}

/**
 * busboy for this body's boundary and our limits; null when the Content-Type has no usable
 * boundary. `after`: for what follows a plain form's file part, after that many fields (the limits
 * are what is left of them; busboy counts the part that ends at its first boundary line).
 */
function parser(contentType: string, limits: MultipartLimits, after?: number): busboy.Busboy | null {
  // busboy stops at `parts` parts ended: a file and limits.maxFields fields take maxFields + 1.
  const parts = limits.maxFields + 2;
  try {
    return busboy({
      headers: { 'content-type': contentType },
      defParamCharset: 'utf8',
      limits:
        after === undefined
          ? { files: 1, fields: limits.maxFields, parts, fieldSize: limits.maxFieldSize, fieldNameSize: 200, headerPairs: 20 }
          : { files: 0, fields: limits.maxFields - after, parts: parts - after - 1, fieldSize: limits.maxFieldSize, fieldNameSize: 200, headerPairs: 20 },
    });
  } catch {
    return null;
  }
}

/** The API error a failed form is answered with. The writer's own failures (a full disk, storage gone) are not the body's fault. */
function formError(err: unknown): Error {
  return (isAppError(err) && err.code !== 'internal') || isStorageFull(err) ? (err as Error) : new AppError('malformed_multipart');
}

/** Chunks a form follows at most (8 MiB of slabs; a steady upload has ~6 between parsing and their writes' end). */
const HELD_MAX = 16;

/** A body chunk not yet given back: its place in the body, parsed yet, pieces the writer still holds. */
interface Held {
  chunk: Buffer;
  seq: number;
  parsed: boolean;
  pieces: number;
}

/**
 * Gives the body's chunks back (`UwsBody.giveBack`) once nothing can hold a view of them. busboy
 * cuts the file part's data as views of the chunk it parses (field values too, until the field
 * ends), and the file part's pieces reach the writer in order. So a chunk is given back once
 * busboy has parsed it, the writer has called back every piece of it (a BlobWriter calls a write
 * back once it no longer holds the chunk), and a piece of a later chunk has reached the writer:
 * the file part went on past this chunk, so every part before it had ended (parts come one at a
 * time) and no field holds a view of it, and all of its own pieces were counted. The chunks up to
 * the one the file part begins in, the one it ends in and any after it are left to the garbage
 * collector, as is everything after a failure (a destroyed writer may still be writing a piece).
 */
class Recycler {
  private readonly held: Held[] = [];
  private seq = 0;
  /** The latest chunk a piece of file data came from. */
  private reached = -1;
  private fileOpen = false;
  private stopped = false;

  /** `body`: the request's, or null for a source whose chunks are not recycled (nothing is followed). */
  constructor(private readonly body: UwsBody | null) {}

  /**
   * A body chunk about to be parsed. Followed only while the file part is open (before it, and
   * after it, nothing would ever give a chunk back: holding them would only pin memory), and only
   * recycled ones (a small chunk may share its memory with others).
   */
  received(chunk: Buffer): Held | undefined {
    const seq = this.seq++;
    if (!this.fileOpen || !this.body?.recycled(chunk)) return undefined;
    const h = { chunk, seq, parsed: false, pieces: 0 };
    this.held.push(h);
    // Bounded: the oldest is dropped from the list (the garbage collector takes it).
    if (this.held.length > HELD_MAX) this.held.shift();
    return h;
  }

  /** The file part began (chunks from the next one on are followed) or ended (no new ones are). */
  file(open: boolean): void {
    this.fileOpen = open;
  }

  parsed(h: Held | undefined): void {
    if (!h) return;
    h.parsed = true;
    this.sweep();
  }

  /** A piece of file data on its way to the writer: counted against the chunk it is a view of. */
  lent(piece: Buffer): Held | undefined {
    for (let i = this.held.length - 1; i >= 0; i--) {
      const h = this.held[i];
      if (h.chunk.buffer === piece.buffer) {
        h.pieces++;
        this.reached = Math.max(this.reached, h.seq);
        return h;
      }
    }
    return undefined;
  }

  returned(h: Held | undefined): void {
    if (!h) return;
    h.pieces--;
    this.sweep();
  }

  stop(): void {
    this.stopped = true;
    this.held.length = 0;
  }

  private sweep(): void {
    if (this.stopped) return;
    for (let h = this.held[0]; h && h.parsed && h.pieces === 0 && h.seq < this.reached; h = this.held[0]) this.body?.giveBack(this.held.shift()!.chunk);
  }
}
