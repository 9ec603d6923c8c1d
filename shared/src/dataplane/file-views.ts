import type { FileHandle } from 'node:fs/promises';
import type { BlobSink, ByteRange } from './dataplane.js';

/** The size of each of a file transfer's two read buffers: 512 KiB, or less for a smaller range. */
export const FILE_READ_CHUNK = 512 * 1024;

/**
 * Reads `range` with `read(buffer, position)` and hands each chunk to `sink` (a view; see
 * BlobSink), reading the next chunk while the sink sends this one: two buffers reused for the
 * whole transfer, each read again only once the sink let go of its view. Serial reads left the
 * socket idle during each read and the disk idle during each send. Starts the sink at once; a
 * read failure or a short file fails it. Resolves when the transfer is over (ended, failed or
 * cancelled) and no read is left running.
 */
export async function sendFileViews(sink: BlobSink, read: (buf: Buffer, pos: number) => Promise<number>, range: ByteRange): Promise<void> {
  const length = range.end - range.start + 1;
  const size = Math.min(FILE_READ_CHUNK, length);
  // A range of one chunk needs one buffer.
  const buffers = length > size ? [Buffer.allocUnsafeSlow(size), Buffer.allocUnsafeSlow(size)] : [Buffer.allocUnsafeSlow(size)];
  let cancelled = false;
  // The sink let go of the view it was given (resume or cancel), possibly while `write` still ran.
  let released = false;
  let wake: (() => void) | null = null;
  const release = () => {
    released = true;
    wake?.();
  };
  sink.start({
    resume: release,
    cancel: () => {
      cancelled = true;
      release();
    },
  });
  /** The next chunk of the range into `buf` (whole: a short read is read on), as a view of it. */
  let pos = range.start;
  const next = (buf: Buffer): Promise<Buffer> => {
    const at = pos;
    const want = Math.min(buf.length, range.end + 1 - at);
    pos += want;
    const chunk = fill(read, buf.subarray(0, want), at);
    // Awaited only once the sink let go of the last view: a failure meanwhile is not unhandled.
    chunk.catch(() => undefined);
    return chunk;
  };
  let ahead: Promise<Buffer> | undefined = next(buffers[0]);
  try {
    for (let i = 0; ahead; i ^= 1) {
      const view = await ahead;
      if (cancelled) return;
      ahead = pos <= range.end ? next(buffers[i ^ 1]) : undefined;
      released = false;
      if (!sink.write(view) && !released) await new Promise<void>((r) => (wake = r));
      wake = null;
      if (cancelled) return;
    }
    sink.end();
  } catch (err) {
    if (!cancelled) sink.fail(err as Error);
  } finally {
    // A read still running when the transfer ended early: waited for (its file may be closed next).
    await ahead?.catch(() => undefined);
  }
}

/** Reads until `view` is full; a read of nothing is a file shorter than its record. */
async function fill(read: (buf: Buffer, pos: number) => Promise<number>, view: Buffer, pos: number): Promise<Buffer> {
  for (let got = 0; got < view.length;) {
    const n = await read(view.subarray(got), pos + got);
    if (n <= 0) throw new Error('blob shorter than its record');
    got += n;
  }
  return view;
}

/** `range` of an open file to `sink` (sendFileViews); the file is closed once the transfer is over, however it ended. */
export function sendFileRange(fh: FileHandle, range: ByteRange, sink: BlobSink): void {
  void sendFileViews(sink, async (buf, pos) => (await fh.read(buf, 0, buf.length, pos)).bytesRead, range).finally(() => fh.close().catch(() => undefined));
}
