import type { Bus, EventOf, EventSubject } from './bus/bus.js';
import type { FileshareProtocol } from './protocol.js';

export interface WatchedRecordsOptions<T> {
  /** Records kept at most (oldest kept first out); 0 keeps none and watches nothing. */
  maxItems: number;
  /** Milliseconds a kept record is trusted: the bound for a process that missed an event without noticing. */
  maxAgeMs: number;
  /** A record is answered from memory only before this time (ms); past it the owner is asked (and says why). */
  expiresAt: (rec: T) => number;
  /** Whether a record read may be kept at all (default: every one). Only records that can no longer change may be. */
  keeps?: (rec: T) => boolean;
}

/**
 * Records another service owns, kept by a process that reads them often (a gateway's upload
 * records, the tokens service's session files). Sound only for records that never change once
 * kept — they are written once and then only deleted or expired. So an entry is dropped
 * - when its `expiresAt` has passed (checked on every read: the owner is asked again and answers why);
 * - when a watched event names it (Bus.watch): on the in-process bus the watcher runs before the
 *   deletion is answered; on NATS the owner publishes the event before it answers, so it reaches
 *   every watcher ahead of any client that heard the answer and asks next;
 * - all at once when the bus says events may have been missed (connection dropped or back);
 * - after `maxAgeMs` regardless.
 * A read that was in flight while any entry was dropped is not kept (it may predate the drop).
 * Concurrent misses of one key share one read (64 connections on a hot record refresh it once).
 */
export class WatchedRecords<T> {
  private readonly items = new Map<string, { rec: T; keptAt: number }>();
  /** Bumped by every drop: a read started before it must not be kept. */
  private drops = 0;
  /** Reads in flight; only those begun after the last drop are joined. */
  private readonly reading = new Map<string, { read: Promise<T>; drops: number }>();

  constructor(
    private readonly bus: Bus,
    private readonly opts: WatchedRecordsOptions<T>,
  ) {}

  /**
   * Drops what each `subject`'s events name: the key `names` returns, or every kept record it
   * returns true for. Call before serving anything.
   */
  async watch<S extends EventSubject>(subject: S, names: (event: EventOf<FileshareProtocol, S>) => string | ((rec: T) => boolean)): Promise<void> {
    if (this.opts.maxItems === 0) return;
    await this.bus.watch(
      subject,
      (event) => {
        const named = names(event);
        if (typeof named === 'string') this.forget(named);
        else this.forgetWhere(named);
      },
      () => this.clear(),
    );
  }

  /** The record kept under `key`, else what `read` (asking the record's owner) answers; its errors pass through and are never kept. */
  get(key: string, read: () => Promise<T>): Promise<T> {
    const now = Date.now();
    const hit = this.items.get(key);
    if (hit) {
      if (now < this.opts.expiresAt(hit.rec) && now - hit.keptAt < this.opts.maxAgeMs) return Promise.resolve(hit.rec);
      // Aged out, not dropped: reads in flight (of this key or others) may still be kept.
      this.items.delete(key);
    }
    const joined = this.reading.get(key);
    if (joined && joined.drops === this.drops) return joined.read;
    const entry = { read: this.read(key, read, now), drops: this.drops };
    this.reading.set(key, entry);
    void entry.read.catch(() => undefined).finally(() => this.reading.get(key) === entry && this.reading.delete(key));
    return entry.read;
  }

  private async read(key: string, read: () => Promise<T>, now: number): Promise<T> {
    const drops = this.drops;
    const rec = await read();
    if (this.opts.maxItems > 0 && drops === this.drops && (this.opts.keeps?.(rec) ?? true)) this.keep(key, rec, now);
    return rec;
  }

  private keep(key: string, rec: T, keptAt: number): void {
    this.items.delete(key);
    this.items.set(key, { rec, keptAt });
    // Oldest kept first out (a Map iterates in insertion order).
    if (this.items.size > this.opts.maxItems) this.items.delete(this.items.keys().next().value!);
  }

  private forget(key: string): void {
    this.drops++;
    this.items.delete(key);
  }

  private forgetWhere(dropped: (rec: T) => boolean): void {
    this.drops++;
    for (const [key, { rec }] of this.items) if (dropped(rec)) this.items.delete(key);
  }

  private clear(): void {
    this.drops++;
    this.items.clear();
  }
}
