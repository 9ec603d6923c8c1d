import { constants, promises as fsp } from 'node:fs';
import { metrics } from '../metrics.js';
import { blobFilePath } from '../paths.js';
import type { UploadMeta, UploadRecord } from '../records.js';
import type { AppendOptions, AppendWriter, BlobSink, BlobWriter, ByteRange, DataPlane, UploadWriter } from './dataplane.js';
import { sendFileRange } from './file-views.js';

/**
 * A standalone gateway's data plane when the fs blobs are on a volume it shares with storage (one
 * host, or a shared mount of the same data directory): downloads read a finished blob's file
 * themselves, as the all-in-one process does, instead of taking every byte through storage's
 * process and a second socket (two more kernel copies per byte). Everything else, and any blob
 * not found there as a whole file (a small blob in blobs.db, a volume not shared, a file that
 * cannot be read), goes to `storage`. Safe because a file under blobs/ is complete and never
 * changes: storage renames it into place only once it is durable, and only deletes it; a
 * download that opened it before a delete reads it whole, as one through storage would.
 */
export class SharedVolumeReads implements DataPlane {
  constructor(
    private readonly storage: DataPlane,
    /** The `blobs` directory of the storage's data directory, as mounted here. */
    private readonly blobsDir: string,
  ) {}

  async sendBlob(key: string, range: ByteRange, sink: BlobSink): Promise<void> {
    const fh = await this.openWhole(key, range);
    if (!fh) return this.storage.sendBlob(key, range, sink);
    metrics.blobReads.inc({ from: 'volume' });
    sendFileRange(fh, range, sink);
  }

  /** The blob's file, open, when it is here and holds the range; else undefined (ask storage). */
  private async openWhole(key: string, range: ByteRange) {
    const path = blobFilePath(this.blobsDir, key);
    if (!path) return undefined;
    // Non-blocking: something that is no file there (a FIFO) must not hold a thread of the pool.
    const fh = await fsp.open(path, constants.O_RDONLY | constants.O_NONBLOCK).catch(() => undefined);
    if (!fh) return undefined;
    const st = await fh.stat().catch(() => undefined);
    if (st?.isFile() && st.size > range.end) return fh;
    await fh.close().catch(() => undefined);
    return undefined;
  }

  createBlob(opts: { maxBytes: number }): BlobWriter {
    return this.storage.createBlob(opts);
  }

  createUpload(opts: { maxBytes: number; meta: Promise<UploadMeta> }): UploadWriter {
    return this.storage.createUpload(opts);
  }

  storeUpload(opts: { bytes: Buffer; maxBytes: number; meta: UploadMeta }): Promise<UploadRecord> {
    return this.storage.storeUpload(opts);
  }

  appendUpload(opts: AppendOptions): AppendWriter {
    return this.storage.appendUpload(opts);
  }

  ping(): Promise<void> {
    return this.storage.ping();
  }
}
