import { HttpDataPlane, SharedVolume, createBus, dataPaths, requireNetworkBus, isMain, runProcess, type Config, type Logger, type Running } from '@fileshare/shared';
import { startGateway } from './index.js';

/** A standalone gateway process: HTTP(S) on `http.port`, bytes to storage over `storage.urls`. */
export async function main(cfg: Config, log: Logger): Promise<Running> {
  requireNetworkBus(cfg, 'gateway');
  const bus = await createBus(cfg, log, 'gateway');
  const storage = new HttpDataPlane(cfg['storage.urls'], cfg['internal.secret']);
  const reads = cfg['blob.fs.gatewayReads'];
  const writes = cfg['blob.fs.gatewayWrites'];
  const volume = cfg['blob.kind'] === 'fs' && (reads || writes) ? new SharedVolume(storage, dataPaths(cfg).dataDir, { reads, writes }) : undefined;
  const dataPlane = volume ?? storage;
  const gw = await startGateway(cfg, { bus, dataPlane, log });
  return {
    async stop(deadlineMs) {
      await gw.stop(deadlineMs);
      await bus.close();
      volume?.close();
      storage.close();
    },
  };
}

if (isMain(import.meta.url)) void runProcess('gateway', main);
