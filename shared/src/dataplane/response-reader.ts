/**
 * Storage's answers on a data-plane connection, read as an explicit state machine:
 *
 *   head ──(status streams)──> body ──(last byte)──> done
 *     └──(any other status)──> json ──(last byte)──> done
 *
 * `head` collects the status line and headers across reads (at most 16 KiB); `body` hands the
 * bytes to the caller as views of the connection's read buffer (no copy); `json` collects a small
 * body (storage's 201 answers and its errors) and parses it. Both the download (BlobReader) and
 * the upload (putWriter) read their responses with it.
 *
 * The peer is our own storage service: it answers HTTP/1.1 with exactly one Content-Length (never
 * chunked). Anything else is not our storage: `unavailable`.
 */
import { AppError, errorFromWire } from '../errors.js';

const HEAD_LIMIT = 16 * 1024;
const STATUS_LINE = /^HTTP\/1\.[01] (\d{3})(?: [^\r\n]*)?$/;

/** A response head as storage writes it: status, length of the body, whether the socket stays open. */
export interface ResponseHead {
  status: number;
  length: number;
  keepAlive: boolean;
}

export interface ResponseCallbacks {
  /** Whether a response with this status streams its body (onHead, onBody) rather than collecting it as JSON (onJson). */
  streams(status: number): boolean;
  /** A streaming response's head; its body follows. */
  onHead?(head: ResponseHead): void;
  /** A view of the body (valid until this returns true); `last` when the body is complete. Return false to pause reading. */
  onBody?(view: Buffer, last: boolean): boolean;
  /** A collected response, complete: its head and parsed body (`{}` when the body is not JSON). */
  onJson?(head: ResponseHead, body: unknown): void;
}

export type ReaderState = 'head' | 'body' | 'json' | 'done';

export class ResponseReader {
  private state: ReaderState = 'head';
  private headText = '';
  private head: ResponseHead | null = null;
  private remaining = 0;
  private readonly chunks: Buffer[] = [];

  constructor(private readonly cb: ResponseCallbacks) {}

  /** Some of the response arrived (a request resent after this could be applied twice). */
  get started(): boolean {
    return this.headText !== '';
  }

  get done(): boolean {
    return this.state === 'done';
  }

  /** The head, once read. */
  get response(): ResponseHead | null {
    return this.head;
  }

  /**
   * Takes one read from the connection. Returns false when reading should pause (the body's
   * consumer holds the view). Throws `unavailable` when the head is not storage's.
   */
  push(view: Buffer): boolean {
    if (this.state === 'head') {
      const bodyStart = this.readHead(view);
      if (bodyStart < 0) return true;
      view = view.subarray(bodyStart);
    }
    switch (this.state) {
      case 'body': {
        const part = view.subarray(0, this.remaining);
        this.remaining -= part.length;
        const last = this.remaining === 0;
        if (last) this.state = 'done';
        return part.length === 0 && !last ? true : this.cb.onBody!(part, last);
      }
      case 'json': {
        const part = view.subarray(0, this.remaining);
        this.remaining -= part.length;
        if (part.length) this.chunks.push(Buffer.from(part)); // copied: the read buffer is reused
        if (this.remaining === 0) {
          this.state = 'done';
          this.cb.onJson?.(this.head!, parseJson(Buffer.concat(this.chunks)));
        }
        return true;
      }
      default:
        return true; // head incomplete, or bytes past the end (ignored)
    }
  }

  /** Where the body starts in `view` once the head is complete (and the state moved on), else -1. */
  private readHead(view: Buffer): number {
    this.headText += view.toString('latin1');
    const end = this.headText.indexOf('\r\n\r\n');
    if (end < 0) {
      if (this.headText.length > HEAD_LIMIT) throw new AppError('unavailable');
      return -1;
    }
    const bodyStart = view.length - (this.headText.length - (end + 4));
    const head = parseHead(this.headText.slice(0, end));
    this.head = head;
    this.remaining = head.length;
    if (this.cb.streams(head.status)) {
      this.state = 'body';
      this.cb.onHead?.(head);
    } else this.state = 'json';
    return bodyStart;
  }
}

/** Status line and the two headers we read; `unavailable` for anything that is not storage's answer. */
function parseHead(text: string): ResponseHead {
  const lines = text.split('\r\n');
  const status = STATUS_LINE.exec(lines[0]);
  if (!status) throw new AppError('unavailable');
  let length = -1;
  let keepAlive = true;
  for (let i = 1; i < lines.length; i++) {
    const colon = lines[i].indexOf(':');
    if (colon <= 0) throw new AppError('unavailable');
    const name = lines[i].slice(0, colon).trim().toLowerCase();
    const value = lines[i].slice(colon + 1).trim();
    if (name === 'content-length') {
      if (length >= 0 || !/^\d{1,15}$/.test(value)) throw new AppError('unavailable');
      length = Number(value);
    } else if (
      name === 'connection' &&
      value
        .toLowerCase()
        .split(/\s*,\s*/)
        .includes('close')
    )
      keepAlive = false;
    else if (name === 'transfer-encoding') throw new AppError('unavailable');
  }
  if (length < 0) throw new AppError('unavailable');
  return { status: Number(status[1]), length, keepAlive };
}

function parseJson(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    return {};
  }
}

/** The AppError a storage error body (`{code,message}`) stands for; anything else is 500. */
export function wireError(body: unknown): AppError {
  const b = (body ?? {}) as { code?: string; message?: string };
  return errorFromWire(b.code, b.message);
}
