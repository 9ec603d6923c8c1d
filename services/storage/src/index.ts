import type { Server } from 'node:http';
import { dataPaths, startOpsServer, type Bus, type Config, type Logger, type Store } from '@fileshare/shared';
import type { BlobStore } from './blob/blob-store.js';
import { FsBlobStore } from './blob/fs-blob-store.js';
import { dataPlaneHandler } from './data-plane-server.js';
import { StorageService } from './storage-service.js';

export { StorageService, type ExpireResult } from './storage-service.js';
export type { BlobStore, CreateBlobOptions } from './blob/blob-store.js';
export { FsBlobStore, type FsBlobStoreOptions } from './blob/fs-blob-store.js';

/** The blob backend the config names, checked (directories made / bucket found) before use. */
export async function createBlobStore(cfg: Config, log: Logger): Promise<BlobStore> {
  if (cfg['blob.kind'] === 's3') {
    const { S3BlobStore } = await import('./blob/s3-blob-store.js');
    return S3BlobStore.fromConfig(cfg, log);
  }
  const fs = new FsBlobStore(dataPaths(cfg).dataDir, { inlineMaxBytes: cfg['blob.fs.inlineMaxBytes'], minFreeBytes: cfg['storage.minFreeBytes'] });
  await fs.init();
  return fs;
}

export interface RunningStorage {
  service: StorageService;
  /** Data-plane server (standalone mode only). */
  server?: Server;
  stop(): Promise<void>;
}

/**
 * Wire the storage service onto a bus and store owned by the caller. `standalone` also serves
 * the data plane and the health endpoints over HTTP on `storage.port`.
 */
export async function startStorage(cfg: Config, deps: { bus: Bus; store: Store; log: Logger }, standalone: boolean): Promise<RunningStorage> {
  const blobs = await createBlobStore(cfg, deps.log);
  const service = new StorageService(deps.store, blobs, deps.bus, deps.log, {
    tombstoneTtl: cfg['expiry.tombstoneTtl'],
    orphanGrace: cfg['expiry.orphanGrace'],
  });
  service.serve();
  let server: Server | undefined;
  if (standalone) {
    server = await startOpsServer({
      host: cfg['internal.host'],
      port: cfg['storage.port'],
      checks: { bus: () => deps.bus.ping(), store: () => deps.store.ping(), blobs: () => blobs.ping() },
      fallback: dataPlaneHandler(service, cfg['internal.secret'], deps.log),
    });
  }
  return {
    service,
    server,
    async stop() {
      if (server) await new Promise<void>((r) => server!.close(() => r()));
      await service.settled();
      await blobs.close();
    },
  };
}
