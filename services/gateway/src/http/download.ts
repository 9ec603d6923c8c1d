import type { Readable } from 'node:stream';
import { metrics } from '@fileshare/shared';
import type { Exchange } from './exchange.js';

/**
 * Stream `size` bytes from `source` to the client with backpressure: `tryEnd` each chunk;
 * when the socket is full, pause the source and finish the chunk from `onWritable`, then
 * resume. The source is destroyed when the client goes away; a source error closes the
 * connection (the status line is already out, so closing is the only honest signal).
 */
export function streamBody(ex: Exchange, status: number, headers: Record<string, string | number>, source: Readable, size: number): void {
  const res = ex.res;
  metrics.downloadsInFlight.inc();
  let settled = false;
  const settle = () => {
    if (settled) return;
    settled = true;
    metrics.downloadsInFlight.dec();
    metrics.bytesOut.inc(ex.bytesOut);
    ex.finish();
  };
  ex.onAbort(() => {
    source.destroy();
    settle();
  });
  if (!ex.cork(() => ex.writeHead(status, headers))) return void source.destroy();
  if (size === 0) {
    ex.cork(() => res.end());
    source.destroy();
    return settle();
  }
  // Every byte was read: let the source end by itself. Destroying it would also destroy an
  // internal HTTP response's keep-alive socket (a new connection to storage per download).
  const finishSource = () => source.resume();
  let pending: Buffer | null = null;
  let pendingOffset = 0;

  const sendPending = (): boolean => {
    const chunk = pending!;
    const written = res.getWriteOffset() - pendingOffset;
    const [ok, done] = res.tryEnd(chunk.subarray(written), size);
    if (done) {
      ex.bytesOut = size;
      pending = null;
      finishSource();
      settle();
      return true;
    }
    if (ok) {
      ex.bytesOut = res.getWriteOffset();
      pending = null;
      source.resume();
    }
    return ok;
  };

  source.on('data', (chunk: Buffer) => {
    if (!ex.open) return void source.destroy();
    ex.cork(() => {
      pendingOffset = res.getWriteOffset();
      const [ok, done] = res.tryEnd(chunk, size);
      if (done) {
        ex.bytesOut = size;
        finishSource();
        settle();
      } else if (!ok) {
        pending = chunk;
        source.pause();
        res.onWritable(() => (ex.open && pending ? sendPending() : true));
      } else ex.bytesOut = res.getWriteOffset();
    });
  });
  source.on('error', () => {
    if (ex.open) ex.cork(() => res.close());
    settle();
  });
  source.on('end', () => {
    // A source shorter than announced: the client would wait forever for the rest.
    if (ex.open && !pending) {
      ex.cork(() => res.close());
      settle();
    }
  });
}
