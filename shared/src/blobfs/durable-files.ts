import { promises as fsp } from 'node:fs';
import { dirname } from 'node:path';

/**
 * A large file is fdatasynced every this many bytes while it is written (one sync in flight at a
 * time, not awaited): the kernel writes back while more bytes arrive, instead of the final fsync
 * flushing the whole file at once and writes stalling on dirty-page throttling. Measured on
 * 900 MB: write + final fsync 1563 ms -> 761 ms.
 */
const SYNC_EVERY = 32 * 1024 * 1024;

/** Progressive write-back for one file being written (FsBlobWriter, storage's FsAppendWriter). The durable-file steps of the fs backend live here. */
export class SyncBehind {
  private unsynced = 0;
  private syncing?: Promise<void>;
  private error?: Error;

  /** `len` more bytes were written to `fh`: start a background sync when enough piled up. */
  wrote(fh: fsp.FileHandle, len: number): void {
    this.unsynced += len;
    if (this.unsynced < SYNC_EVERY || this.syncing) return;
    this.unsynced = 0;
    // Linux reports a write-back error to one fsync only: a failure here fails the file in
    // `settle`, since the final sync would not see it again.
    this.syncing = fh.datasync().then(
      () => void (this.syncing = undefined),
      (err: Error) => {
        this.error = err;
        this.syncing = undefined;
      },
    );
  }

  /** Waits for the background sync; throws what it failed with. The caller's final sync follows. */
  async settle(): Promise<void> {
    await this.syncing;
    if (this.error) throw this.error;
  }
}

/** Writes all of `bufs` (`len` bytes) at the file's position, however many writev calls it takes. */
export async function writeAll(fh: fsp.FileHandle, bufs: Buffer[], len: number): Promise<void> {
  let written = 0;
  while (written < len) {
    const { bytesWritten } = await fh.writev(bufs);
    written += bytesWritten;
    if (written < len) {
      // Partial write: drop what went out and retry the rest.
      let skip = bytesWritten;
      while (skip > 0 && bufs.length) {
        if (bufs[0].length <= skip) skip -= bufs.shift()!.length;
        else {
          bufs[0] = bufs[0].subarray(skip);
          skip = 0;
        }
      }
    }
  }
}

/** fsync of a directory: the names created or renamed in it are durable. */
export async function syncDir(dir: string): Promise<void> {
  const dh = await fsp.open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}

/** Renames a written, synced file to where it belongs, durably (the directory synced after). */
export async function placeDurably(from: string, to: string): Promise<void> {
  const dir = dirname(to);
  // The fan-out directory is made the first time a rename finds it missing, not per file.
  await fsp.rename(from, to).catch(async (err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
    await fsp.mkdir(dir, { recursive: true });
    await fsp.rename(from, to);
  });
  await syncDir(dir);
}
