import type { Msg, NatsConnection } from 'nats';
import { createInbox } from 'nats';
import type { Logger } from 'pino';
import { AppError } from '../errors.js';

interface PendingRequest {
  resolve: (msg: Msg) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * Request/reply without `nc.request`: one wildcard inbox subscription for every reply and a map
 * of pending requests. nats.js builds an Error with a stack trace to settle each of its requests
 * and writes to the socket once per request; here requests made during one turn of the event loop
 * are published together (one socket write) and nothing is thrown on success.
 */
export class Requests {
  private readonly inbox = `${createInbox()}.`;
  private readonly pending = new Map<string, PendingRequest>();
  private next = 0;
  private outbox: { subject: string; data: Uint8Array; reply: string }[] = [];

  constructor(
    private readonly nc: NatsConnection,
    private readonly log: Logger,
  ) {
    // It stays until the connection is drained, so replies still arrive while the bus closes.
    nc.subscribe(`${this.inbox}*`, { callback: (_err, msg) => this.settle(msg) });
  }

  /**
   * Sends on the next turn of the loop with the others of this turn (`now`: at once, so that it
   * precedes whatever this connection publishes next, such as a command's reply); rejects 503 on
   * timeout or when nobody listens.
   */
  send(subject: string, data: Uint8Array, timeoutMs: number, now = false): Promise<Msg> {
    const id = (this.next++).toString(36);
    return new Promise<Msg>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new AppError('unavailable'));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      const request = { subject, data, reply: this.inbox + id };
      if (now) this.publish(request);
      else if (this.outbox.push(request) === 1) setImmediate(() => this.flush());
    });
  }

  /** The connection closed: replies that did not come never will. */
  abandon(): void {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(id);
      p.reject(new AppError('unavailable'));
    }
  }

  private settle(msg: Msg): void {
    const id = msg.subject.slice(this.inbox.length);
    const p = this.pending.get(id);
    if (!p) return; // timed out already
    this.pending.delete(id);
    clearTimeout(p.timer);
    // No subscriber for the subject (every replica of the service is gone): the server says 503.
    if (msg.headers?.code === 503 && msg.data.length === 0) p.reject(new AppError('unavailable'));
    else p.resolve(msg);
  }

  private flush(): void {
    const batch = this.outbox;
    this.outbox = [];
    for (const r of batch) this.publish(r);
  }

  private publish(r: { subject: string; data: Uint8Array; reply: string }): void {
    try {
      this.nc.publish(r.subject, r.data, { reply: r.reply });
    } catch (err) {
      const id = r.reply.slice(this.inbox.length);
      const p = this.pending.get(id);
      this.pending.delete(id);
      if (p) {
        clearTimeout(p.timer);
        this.log.warn({ err: String(err), subject: r.subject }, 'bus request failed');
        p.reject(new AppError('unavailable'));
      }
    }
  }
}
