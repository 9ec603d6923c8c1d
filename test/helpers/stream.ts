import { createHash, randomBytes } from 'node:crypto';
import { Readable, type Writable } from 'node:stream';

/** `size` bytes of pseudo-random data as a stream (one 1 MiB block repeated, rotated), and its sha256. */
export function bigStream(size: number, prefix?: Buffer, suffix?: Buffer): { stream: Readable; sha256: string; length: number } {
  const block = randomBytes(1024 * 1024);
  const hash = createHash('sha256');
  let sent = 0;
  function* gen() {
    if (prefix) yield prefix;
    while (sent < size) {
      const n = Math.min(block.length, size - sent);
      const chunk = block.subarray(0, n);
      sent += n;
      yield chunk;
    }
    if (suffix) yield suffix;
  }
  // sha256 of the file part only
  let left = size;
  while (left > 0) {
    const n = Math.min(block.length, left);
    hash.update(block.subarray(0, n));
    left -= n;
  }
  return { stream: Readable.from(gen(), { objectMode: false }), sha256: hash.digest('hex'), length: size + (prefix?.length ?? 0) + (suffix?.length ?? 0) };
}

/**
 * Writes `data` to `w` as a caller that lends its chunks would (BlobWriter's contract): through
 * `buffers` reused buffers of `chunk` bytes, each poisoned and refilled as soon as its write
 * callback ran. A writer that still held a chunk after its callback would store poison.
 */
export async function writeLent(w: Writable, data: Buffer, chunk: number, buffers = 3): Promise<void> {
  const free = Array.from({ length: buffers }, () => Buffer.alloc(chunk));
  const waiting: (() => void)[] = [];
  for (let at = 0; at < data.length; at += chunk) {
    if (free.length === 0) await new Promise<void>((r) => waiting.push(r));
    const buf = free.pop()!;
    const n = data.copy(buf, 0, at, Math.min(at + chunk, data.length));
    w.write(buf.subarray(0, n), (err) => {
      if (!err) buf.fill(0xaa);
      free.push(buf);
      waiting.shift()?.();
    });
  }
  w.end();
}
