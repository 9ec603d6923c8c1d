import { createHash, type Hash } from 'node:crypto';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { CarriedHashes } from '../blobfs/carried-hashes.js';
import { FsAppendWriter } from '../blobfs/fs-append-writer.js';
import { deferred } from '../deferred.js';
import { AppError, isAppError } from '../errors.js';
import { isId } from '../ids.js';
import { metrics } from '../metrics.js';
import { writeBatch } from '../streams.js';
import type { ResumableState } from '../records.js';
import type { AppendOptions, AppendWriter, DataPlane } from './dataplane.js';
import type { PlacedAppend, VolumeBooks } from './shared-volume.js';

/** Renewals never come closer together than this, whatever lease storage names. */
const MIN_RENEW_MS = 500;

/**
 * A resumable chunk that a gateway on the shared volume appends itself (SharedVolume.appendUpload),
 * instead of sending every byte through storage's process to be written there.
 *
 * Storage keeps the upload's books exactly as for its own appends (services/storage/src/
 * resumable.ts): before a byte is taken it takes the upload's lock for this gateway and checks
 * owner, offset and length (`beginAppend`: a wrong request hears why, a second writer hears
 * `upload_locked`); the gateway renews that lock while the chunk streams (`renewAppend`, a third of
 * its lease) and writes the upload's growing blob with storage's own writer (FsAppendWriter:
 * `tmp/<appendKey>.part`, cut back to the acknowledged offset, fdatasync before done); then storage
 * checks the file and moves the offset (`endAppend`), completing the upload after its last chunk,
 * and lets the lock go. A chunk that fails (cut body, checksum mismatch, a lapsed lock) is handed
 * nothing: the lock goes, and the next append cuts its bytes. A gateway that dies stops renewing:
 * the lock lapses within its lease and the upload is writable again.
 *
 * The whole upload's sha256 is carried here from one chunk to the next (CarriedHashes) and handed
 * to storage with each chunk, so completion reads nothing back when the chunks came through this
 * gateway. An upload without a growing blob (a session file's) is appended through storage.
 */
export class VolumeAppend extends Writable implements AppendWriter {
  private readonly settle = deferred<ResumableState>({ unhandled: 'ignore' });
  readonly state = this.settle.promise;
  /** Storage's go-ahead: the growing blob and where this chunk starts. */
  private placed?: PlacedAppend;
  private file?: FsAppendWriter;
  /** Where the bytes go when storage appends them (an upload without a growing blob). */
  private through?: AppendWriter;
  /** This gateway holds the upload's lock (placed, and not handed back). */
  private held = false;
  private renewal?: NodeJS.Timeout;
  /** The digest the client announced, computed over the bytes as they come. */
  private readonly check?: Hash;
  /** The whole upload's sha256, carried through this chunk. */
  private carried?: Hash;

  constructor(
    private readonly storage: DataPlane & VolumeBooks,
    private readonly tmpDir: string,
    private readonly hashes: CarriedHashes,
    private readonly o: AppendOptions,
  ) {
    super({ highWaterMark: 256 * 1024 });
    if (o.checksum) this.check = createHash(o.checksum.algorithm);
    this.on('error', () => undefined); // reported through `state`
  }

  override _construct(cb: (err?: Error | null) => void): void {
    this.storage
      .beginAppend(this.o)
      // A storage that does not know the request (an older one, mid-upgrade) takes the chunk itself.
      .catch((err: unknown) => {
        if (isAppError(err) && err.code === 'not_found') return undefined;
        throw err;
      })
      .then(
        (placed) => {
          metrics.blobWrites.inc({ to: placed ? 'volume' : 'storage' });
          if (!placed) {
            this.through = this.storage.appendUpload(this.o);
            this.through.on('error', () => undefined);
            this.through.state.then(
              (state) => this.settle.resolve(state),
              (err: Error) => this.settle.reject(err),
            );
            return cb();
          }
          if (!isId(placed.appendKey)) {
            void this.storage.releaseAppend(this.o.id).catch(() => undefined);
            const err = new Error(`storage named no growing blob: ${placed.appendKey}`);
            this.settle.reject(err);
            return cb(err);
          }
          this.placed = placed;
          this.held = true;
          this.file = new FsAppendWriter(join(this.tmpDir, `${placed.appendKey}.part`), placed.offset, { maxBytes: placed.maxBytes });
          this.file.on('error', () => undefined);
          this.carried = this.hashes.from(placed.appendKey, placed.offset);
          this.renewal = setInterval(() => this.renew(), Math.max(MIN_RENEW_MS, placed.leaseMs / 3));
          cb();
        },
        (err: Error) => {
          this.settle.reject(err);
          cb(err);
        },
      );
  }

  /** Keeps the lock; lost (lapsed), the chunk is given up: someone else may be appending now. */
  private renew(): void {
    this.storage.renewAppend(this.o.id).then(
      (held) => {
        if (held || !this.held) return;
        this.held = false;
        this.destroy(new AppError('upload_locked'));
      },
      () => undefined, // storage not reached this time: the next renewal, or the end, tells
    );
  }

  /** A batch to the file, hashed on the way, or to storage, which hashes it (writeBatch). */
  override _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void {
    if (this.file) writeBatch(this.file, chunks, cb, [this.check, this.carried]);
    else writeBatch(this.through!, chunks, cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (this.through) {
      this.through.end();
      this.through.state.then(() => cb(), cb);
      return;
    }
    const placed = this.placed!;
    this.file!.end();
    this.file!.done.then(async ({ size }) => {
      // tus checksum: a chunk whose digest is not the client's is not handed in (460); the offset stays.
      if (this.check && this.check.digest('base64') !== this.o.checksum!.digest) throw new AppError('checksum_mismatch');
      clearInterval(this.renewal);
      this.held = false; // storage lets the lock go once it has answered, whatever the answer
      const state = await this.storage.endAppend(this.o, { size, sha256: this.carried?.copy().digest('hex') });
      if (this.carried) this.hashes.keep(placed.appendKey, placed.offset + size, this.carried);
      return state;
    }).then(
      (state) => {
        this.settle.resolve(state);
        cb();
      },
      (err: Error) => {
        this.giveUp(err);
        cb(err);
      },
    );
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.giveUp(err ?? new AppError('incomplete_body'));
    cb(err);
  }

  /** Nothing of this chunk is handed in: the file closes, then the lock (if still this gateway's) goes. */
  private giveUp(why: Error): void {
    clearInterval(this.renewal);
    if (this.settle.settled) return;
    this.settle.reject(why);
    this.through?.destroy(why);
    const file = this.file;
    if (!file) return;
    file.destroy(why);
    if (!this.held) return;
    this.held = false;
    // A write in flight ends before the file closes: only then may another writer cut it back.
    void finished(file)
      .catch(() => undefined)
      .then(() => this.storage.releaseAppend(this.o.id))
      .catch(() => undefined);
  }
}
