/**
 * Small files in memory, least recently used first out, bounded in total bytes. Safe because
 * blobs are immutable under their key (a new upload is a new key), and every request checks
 * the record (owner, expiry, deletion) before the cache is consulted: a cached copy of deleted
 * or expired bytes is never served. What it saves: the data-plane hop (distributed) or the
 * open/read/close round trip through the thread pool (all-in-one) for every small download.
 */
export class BlobCache {
  private readonly items = new Map<string, Buffer>();
  private bytes = 0;

  constructor(
    private readonly maxBytes: number,
    readonly maxItemBytes: number,
  ) {}

  fits(size: number): boolean {
    return this.maxBytes > 0 && size <= this.maxItemBytes && size <= this.maxBytes;
  }

  get(key: string): Buffer | undefined {
    const b = this.items.get(key);
    if (b) {
      this.items.delete(key);
      this.items.set(key, b);
    }
    return b;
  }

  set(key: string, value: Buffer): void {
    if (!this.fits(value.length) || this.items.has(key)) return;
    this.items.set(key, value);
    this.bytes += value.length;
    for (const [k, v] of this.items) {
      if (this.bytes <= this.maxBytes) break;
      this.items.delete(k);
      this.bytes -= v.length;
    }
  }

  get size(): number {
    return this.bytes;
  }
}
