import { deferred, type ErrorCode, type Logger, type Sent } from '@fileshare/shared';
import type { Downloadable, Downloads } from './download.js';
import type { Exchange } from './exchange.js';

/** What a counted download's owner (the tokens service, storage's download limits) does with it. */
export interface DeliveryLease {
  /** Lease length, ms: renewed every third of it while the body streams. */
  leaseMs: number;
  renew(): Promise<unknown>;
  /** Told once what the response delivered (see Downloads.send). */
  finish(sent: Sent): Promise<unknown>;
}

/**
 * A download whose deliveries are counted (one-time links, download limits): the caller began
 * it (a lease is held); the lease is renewed while the bytes flow; when the response is over the
 * owner hears what was sent. The request lasts until that is recorded, so a shutdown waits for it.
 */
export async function countedDownload(
  ex: Exchange,
  downloads: Downloads,
  d: Downloadable,
  gone: ErrorCode,
  headers: Record<string, string>,
  lease: DeliveryLease,
  log: Logger,
): Promise<void> {
  const renew = setInterval(() => void lease.renew().catch(() => undefined), lease.leaseMs / 3);
  const recorded = deferred<void>();
  const finish = (sent: Sent) => {
    clearInterval(renew);
    lease
      .finish(sent)
      .catch((err: unknown) => log.error({ err }, 'a counted delivery could not be recorded; its lease lapses'))
      .finally(() => recorded.resolve());
  };
  await downloads.send(ex, d, gone, headers, finish);
  await recorded.promise;
}
