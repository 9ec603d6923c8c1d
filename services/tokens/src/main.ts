import { createBus, requireNetworkBus, createStore, isMain, runProcess, startOpsServer, type Config, type Logger, type Running } from '@fileshare/shared';
import { startTokens } from './index.js';

/** A standalone tokens process: `tokens.*` commands on the bus, health on `tokens.port`. */
export async function main(cfg: Config, log: Logger): Promise<Running> {
  requireNetworkBus(cfg, 'tokens');
  const bus = await createBus(cfg, log, 'tokens');
  const store = await createStore(cfg, log);
  await startTokens(cfg, { bus, store, log });
  await bus.ping();
  const server = await startOpsServer({ host: cfg['internal.host'], port: cfg['tokens.port'], checks: { bus: () => bus.ping(), store: () => store.ping() } });
  log.info({ port: cfg['tokens.port'] }, 'tokens ready');
  return {
    async stop() {
      await new Promise((r) => server.close(r));
      await bus.close();
      await store.close();
    },
  };
}

if (isMain(import.meta.url)) void runProcess('tokens', main);
