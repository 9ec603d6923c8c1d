import { createBus, requireNetworkBus, createStore, isMain, runProcess, type Config, type Logger, type Running } from '@fileshare/shared';
import { startStorage } from './index.js';

/** A standalone storage process: commands on the bus, data plane and health on `storage.port`. */
export async function main(cfg: Config, log: Logger): Promise<Running> {
  requireNetworkBus(cfg, 'storage');
  const bus = await createBus(cfg, log, 'storage');
  const store = await createStore(cfg, log);
  const storage = await startStorage(cfg, { bus, store, log }, true);
  await bus.ping();
  log.info({ port: cfg['storage.port'], blob: cfg['blob.kind'], store: cfg['store.kind'] }, 'storage ready');
  return {
    async stop() {
      await storage.stop();
      await bus.close();
      await store.close();
    },
  };
}

if (isMain(import.meta.url)) void runProcess('storage', main);
