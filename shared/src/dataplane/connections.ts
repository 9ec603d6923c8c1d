/**
 * Keep-alive sockets to storage replicas for the HTTP data plane, without Node's HTTP client:
 * each socket reads into one fixed buffer of its own (`net` `onread`), and the exchange using
 * it (a download: `BlobReader`; an upload: `putWriter` in blob-upload.ts) reads storage's
 * answers from there with a ResponseReader.
 *
 * Why: Node's client allocated and copied every 64 KiB of a download twice (page faults and GC
 * held a distributed download to ~165 MB/s), and per upload it built a ClientRequest, an
 * IncomingMessage, parsed a URL and went through the agent: about a seventh of the gateway's
 * busy time on 4 KiB uploads (profile).
 */
import { connect, type Socket } from 'node:net';

const READ_BUFFER = 256 * 1024;
/** Idle connections are closed well before the storage server drops them (keepAliveTimeout 65 s). */
const IDLE_MS = 30_000;
/**
 * Enough for every upload and download a busy gateway has in flight at once: with 16, 64
 * concurrent small uploads opened a new connection for most of them (storage's profile:
 * accepting connections took ~10% of its busy time).
 */
const MAX_IDLE_PER_URL = 256;

export class Connection {
  readonly socket: Socket;
  /** The response in progress: gets each read; returning false pauses reading. */
  onBytes: ((view: Buffer) => boolean) | null = null;
  /** The connection ended or failed while a response was in progress. */
  onClose: ((err: Error) => void) | null = null;
  idleTimer?: NodeJS.Timeout;
  readonly connected: Promise<void>;

  constructor(host: string, port: number) {
    const buffer = Buffer.allocUnsafeSlow(READ_BUFFER);
    this.socket = connect({
      host,
      port,
      onread: {
        buffer,
        // Bytes nobody asked for (between responses) mean the stream is out of step: drop it.
        callback: (n) => (this.onBytes ? this.onBytes(buffer.subarray(0, n)) : void this.socket.destroy()) !== false,
      },
    });
    this.socket.setNoDelay(true);
    this.connected = new Promise((resolve, reject) => {
      this.socket.once('connect', resolve);
      this.socket.once('error', reject);
    });
    this.connected.catch(() => undefined);
    this.socket.on('error', (err) => this.closed(err));
    this.socket.on('close', () => this.closed(Object.assign(new Error('storage closed the connection'), { code: 'ECONNRESET' })));
  }

  private closed(err: Error): void {
    const onClose = this.onClose;
    this.onBytes = this.onClose = null;
    onClose?.(err);
  }

  get usable(): boolean {
    return !this.socket.destroyed && this.socket.readyState === 'open';
  }

  /** Not reusable (an exchange cut short, or out of step): forget the exchange, close the socket. */
  drop(): void {
    this.onBytes = this.onClose = null;
    this.socket.destroy();
  }
}

/** Idle connections per storage URL, reused for the next exchange (LIFO), closed after IDLE_MS. */
export class ConnectionPool {
  private readonly idle = new Map<string, Connection[]>();

  /** An idle connection to `url`, or a new one once connected (rejects when it cannot connect). */
  async acquire(url: string, fresh = false): Promise<{ conn: Connection; reused: boolean }> {
    const list = this.idle.get(url);
    while (!fresh && list?.length) {
      const conn = list.pop()!;
      clearTimeout(conn.idleTimer);
      if (conn.usable) return { conn, reused: true };
    }
    const u = new URL(url);
    const conn = new Connection(u.hostname, Number(u.port) || 80);
    try {
      await conn.connected;
    } catch (err) {
      conn.socket.destroy();
      throw err;
    }
    return { conn, reused: false };
  }

  /** The exchange on `conn` is complete and the peer keeps it open: reuse it. */
  release(url: string, conn: Connection): void {
    conn.onBytes = conn.onClose = null;
    const list = this.idle.get(url) ?? [];
    this.idle.set(url, list);
    if (!conn.usable || list.length >= MAX_IDLE_PER_URL) return conn.drop();
    conn.idleTimer = setTimeout(() => {
      const i = list.indexOf(conn);
      if (i >= 0) list.splice(i, 1);
      conn.socket.destroy();
    }, IDLE_MS).unref();
    list.push(conn);
  }

  close(): void {
    for (const list of this.idle.values()) for (const c of list.splice(0)) c.socket.destroy();
  }
}
