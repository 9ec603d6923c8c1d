import type { Bus, Config, Logger, Store } from '@fileshare/shared';
import { ExpiryService } from './expiry-service.js';

export { ExpiryService, type SweepResult } from './expiry-service.js';

/** Wire the expiry service onto a bus and store owned by the caller, and start sweeping. */
export function startExpiry(cfg: Config, deps: { bus: Bus; store: Store; log: Logger }): ExpiryService {
  const svc = new ExpiryService(deps.store, deps.bus, deps.log, {
    intervalMs: cfg['expiry.interval'] * 1000,
    leaseMs: cfg['expiry.lease'] * 1000,
    batch: cfg['expiry.batch'],
  });
  svc.start();
  return svc;
}
