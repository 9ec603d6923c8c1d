import { COMMANDS, EVENTS, WatchedRecords, type Bus, type UploadRecord } from '@fileshare/shared';

/**
 * Upload records this gateway has read, kept so that a download needs no storage round trip
 * (WatchedRecords: sound because a record is written once and then only deleted or expired).
 * Dropped on every gateway by the delete and expiry events that name them. Misses and errors
 * (404, 410, 409 incomplete) are never kept: a later upload may take the id.
 */
export class UploadRecordCache {
  private readonly records: WatchedRecords<UploadRecord>;

  constructor(
    private readonly bus: Bus,
    maxItems: number,
    maxAgeMs: number,
  ) {
    this.records = new WatchedRecords(bus, { maxItems, maxAgeMs, expiresAt: (rec) => rec.expiresAt });
  }

  /** Starts watching deletions and expiries (before the gateway serves anything). */
  async start(): Promise<void> {
    await this.records.watch(EVENTS.uploadDeleted, (e) => e.uploadId);
    await this.records.watch(EVENTS.uploadExpired, (e) => e.uploadId);
  }

  /** The record, as storage's `upload.get` answers it (404 unknown, 410 expired, 409 incomplete). */
  get(id: string): Promise<UploadRecord> {
    return this.records.get(id, () => this.bus.request(COMMANDS.uploadGet, { id }));
  }

  /** The record when it is kept and may be served now (`WatchedRecords.peek`); else use `get`. */
  peek(id: string): UploadRecord | undefined {
    return this.records.peek(id);
  }
}
