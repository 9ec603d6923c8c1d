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
  /**
   * Whether every read serves a request that reached this process on the bus (a command). Such a
   * request arrives behind every event published before it was sent (one connection, delivered
   * in order, watchers told first), so what is kept is current for it at once. Otherwise (a
   * gateway's HTTP clients) a kept record waits for `Bus.caughtUp` before it is served.
   */
  requestsOnBus?: boolean;
}

interface Kept<T> {
  rec: T;
  keptAt: number;
}

interface Reading<T> {
  read: Promise<T>;
  /** `drops` when the read began. */
  drops: number;
}

/**
 * Records another service owns, kept by a process that reads them often (a gateway's upload
 * records, the tokens service's session files). Sound only for records that never change once
 * kept — they are written once and then only deleted or expired. So an entry is dropped
 * - when its `expiresAt` has passed (checked on every read: the owner is asked again and answers why);
 * - when a watched event names it (Bus.watch): the owner publishes the event before it answers
 *   the deletion. On the in-process bus the watcher has run by then; on NATS the event is queued
 *   for every watcher by then, yet may be read here after the request of a client who heard the
 *   answer — so a kept record is served only once the bus has caught up (`Bus.caughtUp`);
 * - all at once when the bus says events may have been missed (connection dropped or back);
 * - after `maxAgeMs` regardless.
 * A read that was in flight while any entry was dropped is not kept (it may predate the drop).
 * Concurrent misses of one key share one read (64 connections on a hot record refresh it once).
 */
export class WatchedRecords<T> {
  private readonly items = new Map<string, Kept<T>>();
  /** Bumped by every drop: a read started before it must not be kept. */
  private drops = 0;
  /** Reads in flight; only those begun after the last drop are joined. */
  private readonly reading = new Map<string, Reading<T>>();

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

  /**
   * The record kept under `key`, else what `read` (asking the record's owner) answers; its errors
   * pass through and are never kept.
   * Unless requests arrive on the bus (`requestsOnBus`), a kept record is served only once the
   * bus has caught up (`Bus.caughtUp`): an event can reach this process after the request of a
   * client who saw the delete answered. A read another caller began earlier is joined on the same
   * terms, and used only if nothing was dropped since it began; a caller's own read needs no wait
   * (it asks the owner after the request arrived).
   */
  get(key: string, read: () => Promise<T>): Promise<T> {
    const now = Date.now();
    const hit = this.items.get(key);
    if (hit) {
      if (this.fresh(hit, now)) {
        return this.opts.requestsOnBus ? Promise.resolve(hit.rec) : this.served(key, hit, read);
      }
      // Aged out, not dropped: reads in flight (of this key or others) may still be kept.
      this.items.delete(key);
    }
    const joined = this.reading.get(key);
    if (joined && joined.drops === this.drops) return this.opts.requestsOnBus ? joined.read : this.joined(key, joined, read);
    return this.ownRead(key, read, now);
  }

  /**
   * The record kept under `key` when it may be served in this very turn: kept, fresh, and nothing
   * to wait for (requests arrive on the bus, or the bus is caught up now: the in-process bus).
   * Undefined otherwise: `get` then reads or waits. (A small download's hot path: no promise.)
   */
  peek(key: string): T | undefined {
    const hit = this.items.get(key);
    if (!hit || !this.fresh(hit, Date.now())) return undefined;
    return this.opts.requestsOnBus || this.bus.caughtUpNow() ? hit.rec : undefined;
  }

  /** Not expired, and kept for less than `maxAgeMs`. */
  private fresh(hit: Kept<T>, now: number): boolean {
    return now < this.opts.expiresAt(hit.rec) && now - hit.keptAt < this.opts.maxAgeMs;
  }

  private async served(key: string, hit: Kept<T>, read: () => Promise<T>): Promise<T> {
    await this.bus.caughtUp();
    return this.items.get(key) === hit ? hit.rec : this.get(key, read);
  }

  private async joined(key: string, joined: Reading<T>, read: () => Promise<T>): Promise<T> {
    await this.bus.caughtUp();
    const outcome = await joined.read.then(
      (rec) => ({ rec }),
      (err: unknown) => ({ err }),
    );
    if (joined.drops !== this.drops) return this.get(key, read);
    if ('err' in outcome) throw outcome.err;
    return outcome.rec;
  }

  private ownRead(key: string, read: () => Promise<T>, now: number): Promise<T> {
    const entry: Reading<T> = { read: this.read(key, read, now), drops: this.drops };
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
