import type { FileHandle } from 'node:fs/promises';
import type { BlobSink, ByteRange } from './dataplane.js';

/** The read buffer of one file transfer: 512 KiB, or less for a smaller range. */
export const FILE_READ_CHUNK = 512 * 1024;

/**
 * Reads `range` with `read(buffer, position)` into one buffer reused for the whole transfer and
 * hands each chunk to `sink` (a view; see BlobSink): the next read waits until the sink let go.
 * Starts the sink at once; a read failure or a short file fails it. Resolves when the transfer is
 * over (ended, failed or cancelled).
 */
export async function sendFileViews(sink: BlobSink, read: (buf: Buffer, pos: number) => Promise<number>, range: ByteRange): Promise<void> {
  const length = range.end - range.start + 1;
  const buf = Buffer.allocUnsafeSlow(Math.min(FILE_READ_CHUNK, length));
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
  try {
    for (let pos = range.start; pos <= range.end && !cancelled;) {
      const n = await read(buf.subarray(0, Math.min(buf.length, range.end + 1 - pos)), pos);
      if (n <= 0) throw new Error('blob shorter than its record');
      pos += n;
      if (cancelled) return;
      released = false;
      if (!sink.write(buf.subarray(0, n)) && !released) await new Promise<void>((r) => (wake = r));
      wake = null;
    }
    if (!cancelled) sink.end();
  } catch (err) {
    if (!cancelled) sink.fail(err as Error);
  }
}

/** `range` of an open file to `sink` (sendFileViews); the file is closed once the transfer is over, however it ended. */
export function sendFileRange(fh: FileHandle, range: ByteRange, sink: BlobSink): void {
  void sendFileViews(sink, async (buf, pos) => (await fh.read(buf, 0, buf.length, pos)).bytesRead, range).finally(() => fh.close().catch(() => undefined));
}
