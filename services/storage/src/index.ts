import type { Server } from 'node:http';
import { dataPaths, startOpsServer, type Bus, type Config, type Logger, type Store } from '@fileshare/shared';
import type { DurableSqlite } from '@fileshare/shared/durable-sqlite';
import type { BlobStore } from './blob/blob-store.js';
import { FsBlobStore } from './blob/fs-blob-store.js';
import { serveStorageCommands } from './commands.js';
import { dataPlaneHandler } from './data-plane-server.js';
import { Expirer } from './expirer.js';
import { FileRecords } from './files.js';
import { Locker } from './locker.js';
import { Orphans } from './orphans.js';
import { DownloadLimits } from './download-limits.js';
import { ResumableUploads } from './resumable.js';
import { SessionRecords } from './sessions.js';
import { StorageDataPlane } from './storage-data-plane.js';
import { UploadRecords } from './uploads.js';

export { StorageDataPlane } from './storage-data-plane.js';
export type { BlobStore, CreateBlobOptions, DefersWhole, RangeSender } from './blob/blob-store.js';
export { appends, defersWhole, sendsRanges } from './blob/blob-store.js';
export { FsBlobStore, type FsBlobStoreOptions } from './blob/fs-blob-store.js';

/**
 * The blob backend the config names, checked (directories made / bucket found) before use.
 * `inlineFile`: the record store's SQLite file, for the fs backend's small blobs (all-in-one).
 */
export async function createBlobStore(cfg: Config, log: Logger, inlineFile?: DurableSqlite): Promise<BlobStore> {
  if (cfg['blob.kind'] === 's3') {
    const { S3BlobStore } = await import('./blob/s3-blob-store.js');
    return S3BlobStore.fromConfig(cfg, log);
  }
  const fs = new FsBlobStore(dataPaths(cfg).dataDir, { inlineMaxBytes: cfg['blob.fs.inlineMaxBytes'], minFreeBytes: cfg['storage.minFreeBytes'], inlineFile });
  await fs.init();
  return fs;
}

export interface StorageOptions {
  /** Seconds an expired item answers 410 rather than 404. */
  tombstoneTtl: number;
  /** Seconds after which uncommitted bytes (a crashed upload) are deleted. */
  orphanGrace: number;
  /** Seconds a resumable upload may stay incomplete. */
  incompleteTtl: number;
}

/**
 * Storage's parts over a store and a blob store, with every `storage.*` command served on `bus`.
 * Returns the data plane (the gateway's, in all-in-one mode; the HTTP server's otherwise).
 */
export function serveStorage(store: Store, blobs: BlobStore, bus: Bus, log: Logger, opts: StorageOptions): StorageDataPlane {
  const orphans = new Orphans(store, blobs, log, opts.orphanGrace);
  const uploads = new UploadRecords(store, blobs, orphans, bus);
  const files = new FileRecords(store, blobs, orphans, new Locker(store), bus, log);
  const sessions = new SessionRecords(store, files, bus);
  const resumable = new ResumableUploads(store, blobs, orphans, uploads, files, log, { incompleteTtl: opts.incompleteTtl, tombstoneTtl: opts.tombstoneTtl });
  const expirer = new Expirer(store, blobs, sessions, files, resumable, bus, log, opts.tombstoneTtl);
  const dataPlane = new StorageDataPlane(store, blobs, orphans, uploads, resumable);
  serveStorageCommands(bus, { uploads, limits: new DownloadLimits(store, uploads, bus), resumable, sessions, files, expirer, dataPlane });
  return dataPlane;
}

export interface RunningStorage {
  dataPlane: StorageDataPlane;
  /** Data-plane server (standalone mode only). */
  server?: Server;
  stop(): Promise<void>;
}

/**
 * Wire the storage service onto a bus and store owned by the caller. `standalone` also serves
 * the data plane and the health endpoints over HTTP on `storage.port`. `inlineFile`: the
 * store's own SQLite file, when no other process stores blobs (all-in-one on the in-process bus):
 * small blobs are kept there, and a simple upload's bytes, record and expiry entry commit together.
 */
export async function startStorage(cfg: Config, deps: { bus: Bus; store: Store; log: Logger; inlineFile?: DurableSqlite }, standalone: boolean): Promise<RunningStorage> {
  const blobs = await createBlobStore(cfg, deps.log, deps.inlineFile);
  const dataPlane = serveStorage(deps.store, blobs, deps.bus, deps.log, {
    tombstoneTtl: cfg['expiry.tombstoneTtl'],
    orphanGrace: cfg['expiry.orphanGrace'],
    incompleteTtl: cfg['models.upload.incompleteTtl'],
  });
  let server: Server | undefined;
  if (standalone) {
    server = await startOpsServer({
      host: cfg['internal.host'],
      port: cfg['storage.port'],
      checks: { bus: () => deps.bus.ping(), store: () => deps.store.ping(), blobs: () => blobs.ping() },
      fallback: dataPlaneHandler(dataPlane, cfg['internal.secret'], deps.log),
    });
  }
  return {
    dataPlane,
    server,
    async stop() {
      if (server) await new Promise<void>((r) => server.close(() => r()));
      await dataPlane.settled();
      await blobs.close();
    },
  };
}
