import { createHash, type Hash } from 'node:crypto';
import { Writable } from 'node:stream';
import { AppError, deferred, isAppError, type AppendOptions, type AppendWriter, type BlobWriter, type ResumableRecord, type ResumableState, writeBatch } from '@fileshare/shared';
import type { GrowingBlobWriter } from './blob/blob-store.js';
import type { ResumableUploads } from './resumable.js';

/**
 * One chunk on its way in: `construct` takes the lock and checks the record before a byte is
 * accepted; bytes go to a chunk blob (each write's callback once the blob took it, so lent buffers
 * stay lent); `final` waits for the blob to be durable, advances the record, and ends once the lock
 * is released (so a client told "durable" can write the next chunk at once, whatever happens to
 * this process). Any failure destroys the chunk blob and releases the lock: nothing of it is kept.
 */
export class ChunkWriter extends Writable implements AppendWriter {
  private readonly settle = deferred<ResumableState>({ unhandled: 'ignore' });
  readonly state = this.settle.promise;
  /** What the locked section returns: the state once the chunk is recorded. */
  private readonly section = deferred<ResumableState>({ unhandled: 'ignore' });
  private chunk?: BlobWriter | GrowingBlobWriter;
  /** The digest the client announced, computed over the bytes as they come. */
  private readonly hash?: Hash;
  /** The whole upload's sha256, carried through this chunk (see CarriedHashes). */
  private carried?: Hash;
  private rec?: ResumableRecord;

  constructor(
    private readonly uploads: ResumableUploads,
    private readonly o: AppendOptions,
  ) {
    super({ highWaterMark: 256 * 1024 });
    if (o.checksum) this.hash = createHash(o.checksum.algorithm);
    this.on('error', () => undefined); // reported through `state`
  }

  override _construct(cb: (err?: Error | null) => void): void {
    let constructed = false;
    this.uploads
      .locker(this.o.id, false, async () => {
        const { rec, maxBytes } = await this.uploads.checkAppend(this.o);
        this.chunk = this.uploads.chunkSink(rec, maxBytes);
        this.carried = this.uploads.carriedHash(rec);
        this.chunk.on('error', () => undefined);
        this.rec = rec;
        constructed = true;
        cb();
        return this.section.promise;
      })
      .catch(async (err: Error) => {
        // Locked by someone else (an expiry, another PATCH): a request that is wrong anyway hears
        // why (410 expired, 404, offset mismatch) rather than "try again".
        if (!constructed && isAppError(err) && err.code === 'upload_locked') await this.uploads.checkAppend(this.o);
        throw err;
      })
      .then(
        (state) => this.settle.resolve(state),
        (err: Error) => {
          this.settle.reject(err);
          if (!constructed) cb(err);
        },
      );
  }

  /** A batch to the blob, hashed on the way (writeBatch: called back once the blob took it all). */
  override _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void {
    writeBatch(this.chunk!, chunks, cb, [this.hash, this.carried]);
  }

  override _final(cb: (err?: Error | null) => void): void {
    const chunk = this.chunk!;
    chunk.end();
    chunk.done
      .then(async (blob) => {
        // tus checksum: a chunk whose digest is not the client's is not kept (460); the offset stays.
        if (this.hash && this.hash.digest('base64') !== this.o.checksum!.digest) {
          await this.uploads.refuse(blob);
          throw new AppError('checksum_mismatch');
        }
        return this.uploads.appended(this.rec!, blob, this.o.complete, { hash: this.carried });
      })
      .then(
        (s) => this.section.resolve(s),
        (e: Error) => this.section.reject(e),
      );
    this.state.then(() => cb(), cb);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (!this.section.settled) {
      const why = err ?? new AppError('incomplete_body');
      this.chunk?.destroy(why);
      this.section.reject(why);
      this.settle.reject(why);
    }
    cb(err);
  }
}
