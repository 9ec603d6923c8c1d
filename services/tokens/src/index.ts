import type { Bus, Config, Logger, Store } from '@fileshare/shared';
import { TokenService } from './token-service.js';

export { TokenService } from './token-service.js';

/** Wire the tokens service onto a bus and store owned by the caller. */
export async function startTokens(cfg: Config, deps: { bus: Bus; store: Store; log: Logger }): Promise<TokenService> {
  const svc = new TokenService(deps.store, deps.bus, deps.log, {
    tombstoneTtl: cfg['expiry.tombstoneTtl'],
    maxAttempts: cfg['tokens.maxAttempts'],
    fileRecords: cfg['cache.records'],
    fileRecordMaxAge: cfg['cache.recordMaxAge'] * 1000,
  });
  await svc.start();
  return svc;
}
