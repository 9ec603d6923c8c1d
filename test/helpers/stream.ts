import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';

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
