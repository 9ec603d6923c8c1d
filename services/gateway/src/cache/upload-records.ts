import { COMMANDS, EVENTS, type Bus, type UploadRecord } from '@fileshare/shared';

/**
 * Upload records this gateway has read, kept so that a download needs no storage round trip.
 * Safe because a record never changes: it is written once and then only deleted (by its owner)
 * or expired. So an entry is dropped
 * - when its `expiresAt` has passed (checked on every read: storage then answers 410);
 * - when a delete or expiry event names it: every gateway watches them (Bus.watch). On the
 *   in-process bus the watcher runs before the delete is answered; on NATS storage publishes the
 *   event before it answers, so it reaches the other gateways ahead of any client that heard
 *   the 204 and asks them next;
 * - all at once when the bus says events may have been missed (connection dropped or back);
 * - after `maxAgeMs` regardless: the bound for a gateway that missed an event without noticing.
 * A read that was in flight while any entry was dropped is not kept (it may predate the drop).
 * Misses and errors (404, 410, 409 incomplete) are never kept: a later upload may take the id.
 */
export class UploadRecordCache {
  private readonly items = new Map<string, { rec: UploadRecord; keptAt: number }>();
  /** Bumped by every drop: a read started before it must not be kept. */
  private drops = 0;
  /**
   * Reads from storage in flight: concurrent misses of one id share one (64 connections on a hot
   * file refresh it once). Only those begun after the last drop are joined.
   */
  private readonly reading = new Map<string, { read: Promise<UploadRecord>; drops: number }>();

  constructor(
    private readonly bus: Bus,
    private readonly maxItems: number,
    private readonly maxAgeMs: number,
  ) {}

  /** Starts watching deletions and expiries (before the gateway serves anything). */
  async start(): Promise<void> {
    if (this.maxItems === 0) return;
    const forget = (e: { uploadId: string }) => this.forget(e.uploadId);
    const clear = () => this.clear();
    await this.bus.watch(EVENTS.uploadDeleted, forget, clear);
    await this.bus.watch(EVENTS.uploadExpired, forget, clear);
  }

  /** The record, as storage's `upload.get` answers it (404 unknown, 410 expired, 409 incomplete). */
  async get(id: string): Promise<UploadRecord> {
    const now = Date.now();
    const hit = this.items.get(id);
    if (hit) {
      if (now < hit.rec.expiresAt && now - hit.keptAt < this.maxAgeMs) return hit.rec;
      // Aged out, not dropped: reads in flight (of this id or others) may still be kept.
      this.items.delete(id);
    }
    const joined = this.reading.get(id);
    if (joined && joined.drops === this.drops) return joined.read;
    const entry = { read: this.read(id, now), drops: this.drops };
    this.reading.set(id, entry);
    void entry.read.catch(() => undefined).finally(() => this.reading.get(id) === entry && this.reading.delete(id));
    return entry.read;
  }

  private async read(id: string, now: number): Promise<UploadRecord> {
    const drops = this.drops;
    const rec = await this.bus.request(COMMANDS.uploadGet, { id });
    if (this.maxItems > 0 && drops === this.drops) this.keep(id, rec, now);
    return rec;
  }

  private keep(id: string, rec: UploadRecord, keptAt: number): void {
    this.items.delete(id);
    this.items.set(id, { rec, keptAt });
    // Oldest kept first out (a Map iterates in insertion order).
    if (this.items.size > this.maxItems) this.items.delete(this.items.keys().next().value!);
  }

  private forget(id: string): void {
    this.drops++;
    this.items.delete(id);
  }

  private clear(): void {
    this.drops++;
    this.items.clear();
  }
}
