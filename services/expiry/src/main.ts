import { createBus, requireNetworkBus, createStore, isMain, runProcess, startOpsServer, type Config, type Logger, type Running } from '@fileshare/shared';
import { startExpiry } from './index.js';

/** A standalone expiry process: sweeps on its own schedule, health on `expiry.port`. */
export async function main(cfg: Config, log: Logger): Promise<Running> {
  requireNetworkBus(cfg, 'expiry');
  const bus = await createBus(cfg, log, 'expiry');
  const store = await createStore(cfg, log);
  const expiry = startExpiry(cfg, { bus, store, log });
  const server = await startOpsServer({ host: cfg['internal.host'], port: cfg['expiry.port'], checks: { bus: () => bus.ping(), store: () => store.ping() } });
  log.info({ port: cfg['expiry.port'], intervalS: cfg['expiry.interval'] }, 'expiry ready');
  return {
    async stop() {
      await expiry.stop();
      await new Promise((r) => server.close(r));
      await bus.close();
      await store.close();
    },
  };
}

if (isMain(import.meta.url)) void runProcess('expiry', main);
