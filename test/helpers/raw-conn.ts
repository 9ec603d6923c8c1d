import { connect as tcp, type Socket } from 'node:net';
import { connect as tls } from 'node:tls';

export interface RawResponse {
  status: number;
  /** Header lines as received (names lowercased), repeated ones kept. */
  headers: [string, string][];
  body: Buffer;
}

/**
 * One client connection written and read by hand, for what a well-behaved client cannot do:
 * several requests on one keep-alive connection with the exact bytes between them visible
 * (a HEAD answer that leaks a body, a response after a refusal that should have closed).
 */
export class RawConnection {
  private buf = Buffer.alloc(0);
  closed = false;
  private wake?: () => void;

  private constructor(private readonly sock: Socket) {
    sock.on('data', (c: Buffer) => {
      this.buf = Buffer.concat([this.buf, c]);
      this.wake?.();
    });
    sock.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
    sock.on('error', () => undefined);
  }

  static open(url: string): Promise<RawConnection> {
    const u = new URL(url);
    const port = Number(u.port);
    return new Promise((resolve, reject) => {
      const sock =
        u.protocol === 'https:'
          ? tls({ host: u.hostname, port, rejectUnauthorized: false }, () => resolve(new RawConnection(sock)))
          : tcp(port, u.hostname, () => resolve(new RawConnection(sock)));
      sock.once('error', reject);
    });
  }

  write(data: string | Buffer): void {
    if (!this.closed) this.sock.write(data);
  }

  /** Waits until `ready()` holds, the connection closes, or `ms` pass. */
  private async until(ready: () => boolean, ms: number): Promise<void> {
    const end = Date.now() + ms;
    while (!ready() && !this.closed && Date.now() < end) {
      await new Promise<void>((r) => {
        const timer = setTimeout(r, Math.max(1, end - Date.now()));
        this.wake = () => (clearTimeout(timer), r());
      });
    }
  }

  /**
   * The next response: its head, and a body of its Content-Length unless `bodiless` (a HEAD's,
   * or a 1xx/204/304). Null when nothing (complete) arrives within `ms`.
   */
  async response(opts: { bodiless?: boolean; ms?: number } = {}): Promise<RawResponse | null> {
    const ms = opts.ms ?? 5000;
    await this.until(() => this.buf.indexOf('\r\n\r\n') >= 0, ms);
    const end = this.buf.indexOf('\r\n\r\n');
    if (end < 0) return null;
    const lines = this.buf.subarray(0, end).toString('latin1').split('\r\n');
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(lines[0])?.[1] ?? 0);
    const headers = lines.slice(1).map((l): [string, string] => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]);
    const length = Number(headers.find(([k]) => k === 'content-length')?.[1] ?? 0);
    const bodyLength = opts.bodiless || status === 204 || status === 304 || status < 200 ? 0 : length;
    await this.until(() => this.buf.length >= end + 4 + bodyLength, ms);
    if (this.buf.length < end + 4 + bodyLength) return null;
    const body = this.buf.subarray(end + 4, end + 4 + bodyLength);
    this.buf = this.buf.subarray(end + 4 + bodyLength);
    return { status, headers, body };
  }

  /** Bytes that arrived and were not read as part of a response (after waiting `ms`). */
  async leftover(ms = 300): Promise<string> {
    await this.until(() => false, ms);
    return this.buf.toString('latin1');
  }

  /** Whether the server closed the connection within `ms`. */
  async closedWithin(ms: number): Promise<boolean> {
    await this.until(() => false, ms);
    return this.closed;
  }

  destroy(): void {
    this.sock.destroy();
  }
}
