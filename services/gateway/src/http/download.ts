import { metrics, type BlobSink, type BlobTransfer } from '@fileshare/shared';
import type { Exchange } from './exchange.js';

/**
 * A response body of `size` bytes sent with backpressure: `tryEnd` each chunk; when the socket
 * is full, the unsent rest of the chunk is kept and finished from `onWritable`, then `resume` is
 * called (the chunk is a view of the data plane's read buffer: it is not copied). A source that
 * ends short, or fails, closes the connection (the status line is already out, so closing is the
 * only honest signal).
 */
class BodySender {
  private pending: Buffer | null = null;
  private pendingOffset = 0;
  private settled = false;

  constructor(
    private readonly ex: Exchange,
    private readonly size: number,
    /** Called once the kept chunk has been sent: the source may go on. */
    private readonly resume: () => void,
  ) {
    metrics.downloadsInFlight.inc();
  }

  /** Status line and headers; false when the client is gone already. */
  begin(status: number, headers: Record<string, string | number>): boolean {
    if (this.ex.cork(() => this.ex.writeHead(status, headers))) return true;
    this.settle();
    return false;
  }

  /** Sends what the socket takes now. False: the rest of `chunk` is kept, wait for `resume`. */
  write(chunk: Buffer): boolean {
    const { ex } = this;
    if (!ex.open) return false;
    const res = ex.res;
    let accepted = true;
    ex.cork(() => {
      this.pendingOffset = res.getWriteOffset();
      const [ok, done] = res.tryEnd(chunk, this.size);
      if (done) this.complete();
      else if (!ok) {
        this.pending = chunk;
        accepted = false;
        res.onWritable(() => (ex.open && this.pending ? this.sendPending() : true));
      } else ex.bytesOut = res.getWriteOffset();
    });
    return accepted;
  }

  private sendPending(): boolean {
    const res = this.ex.res;
    const written = res.getWriteOffset() - this.pendingOffset;
    const [ok, done] = res.tryEnd(this.pending!.subarray(written), this.size);
    if (done) this.complete();
    else if (ok) this.ex.bytesOut = res.getWriteOffset();
    if (ok || done) {
      this.pending = null;
      this.resume();
    }
    return ok || done;
  }

  /** The source has nothing more: fine if everything was sent or is pending, else cut. */
  end(): void {
    if (this.ex.open && !this.pending) this.fail();
  }

  /** The source broke: close the connection. */
  fail(): void {
    if (this.ex.open) this.ex.cork(() => this.ex.res.close());
    this.settle();
  }

  private complete(): void {
    this.ex.bytesOut = this.size;
    this.settle();
  }

  /** Accounting, once: the response is over (sent, cut or aborted). */
  settle(): void {
    if (this.settled) return;
    this.settled = true;
    metrics.downloadsInFlight.dec();
    metrics.bytesOut.inc(this.ex.bytesOut);
    this.ex.finish();
  }
}

/**
 * A download: a BlobSink that sends the data plane's views to the client (`size` > 0 bytes); the
 * status and headers go out when the data plane has found the blob. See DataPlane.sendBlob.
 */
export function bodySink(ex: Exchange, status: number, headers: Record<string, string | number>, size: number): BlobSink {
  let transfer: BlobTransfer | undefined;
  let sender: BodySender | undefined;
  ex.onAbort(() => {
    transfer?.cancel();
    sender?.settle();
  });
  return {
    start(t) {
      transfer = t;
      sender = new BodySender(ex, size, () => t.resume());
      if (!sender.begin(status, headers)) t.cancel();
    },
    write: (view) => sender!.write(view),
    end: () => sender!.end(),
    fail: () => sender!.fail(),
  };
}
