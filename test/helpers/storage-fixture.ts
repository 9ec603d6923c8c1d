import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { HttpDataPlane, LocalBus, createLogger, isVolumeProbe, loadConfig, type BlobSink, type BlobTransfer } from '@fileshare/shared';
import { SqliteStore } from '@fileshare/shared/implementations';
import { startStorage, type RunningStorage } from '@fileshare/storage';
import { freePort } from './ports.js';
import { tempDir } from './tmp.js';

const log = createLogger({ 'log.level': 'silent' }, 'test');
export const DATA_PLANE_SECRET = 'data-plane-test-secret';

/** A real storage service on a fs blob store and SQLite, with its data-plane server on a free port. */
export interface StorageFixture {
  storage: RunningStorage;
  bus: LocalBus;
  dir: string;
  port: number;
  /** An HttpDataPlane to this storage's server. */
  http: HttpDataPlane;
  /** What storage holds: blobs (inline rows and files), upload records, expiry entries. */
  holdings(): { blobs: number; uploads: number; scheduled: number };
  close(): Promise<void>;
}

/** `inlineInRecords`: small blobs are rows of the record store's file, as in the all-in-one process. */
export async function startStorageFixture(opts: { inlineInRecords?: boolean } = {}): Promise<StorageFixture> {
  const dir = tempDir('fs-dataplane-');
  const port = await freePort();
  const cfg = loadConfig({ env: {}, overrides: { dataDir: dir, 'storage.port': port, 'internal.host': '127.0.0.1', 'internal.secret': DATA_PLANE_SECRET } });
  const bus = new LocalBus(log);
  const store = new SqliteStore(join(dir, 'db.sqlite'));
  const storage = await startStorage(cfg, { bus, store, log, ...(opts.inlineInRecords ? { inlineFile: store.file } : {}) }, true);
  const http = new HttpDataPlane([`http://127.0.0.1:${port}`], DATA_PLANE_SECRET);
  const count = (file: string, sql: string) => {
    const db = new Database(join(dir, file), { readonly: true });
    try {
      return (db.prepare(sql).get() as { n: number }).n;
    } finally {
      db.close();
    }
  };
  return {
    storage,
    bus,
    dir,
    port,
    http,
    holdings() {
      // A gateway's volume probe (SharedVolume) lives a moment and holds no blob.
      const files = readdirSync(join(dir, 'blobs'), { recursive: true, withFileTypes: true }).filter((e) => e.isFile() && !isVolumeProbe(e.name)).length;
      return {
        blobs:
          (existsSync(join(dir, 'blobs.db')) ? count('blobs.db', 'SELECT count(*) n FROM blobs') : 0) +
          (opts.inlineInRecords ? count('db.sqlite', 'SELECT count(*) n FROM blobs') : 0) +
          files,
        uploads: count('db.sqlite', "SELECT count(*) n FROM kv WHERE key LIKE '%upload:%'"),
        scheduled: count('db.sqlite', 'SELECT count(*) n FROM schedule'),
      };
    },
    async close() {
      http.close();
      await storage.stop();
      await store.close();
      await bus.close();
    },
  };
}

export interface Collected {
  bytes: Buffer;
  ended: boolean;
  failed?: Error;
  /** Views held (write returned false) that changed before the sink resumed the transfer. */
  changedWhileHeld: number;
}

/**
 * A sink that collects what it gets; every `stallEvery`-th write is held and resumed later (the
 * view must not change meanwhile: the source may read ahead, never into a held view); cancels
 * after `cancelAfter` bytes.
 */
export function collector(stallEvery = 0, cancelAfter = Infinity): { sink: BlobSink; result: Promise<Collected> } {
  const chunks: Buffer[] = [];
  let transfer!: BlobTransfer;
  let writes = 0;
  let bytes = 0;
  let changedWhileHeld = 0;
  let settle!: (r: Omit<Collected, 'changedWhileHeld'>) => void;
  const result = new Promise<Omit<Collected, 'changedWhileHeld'>>((resolve) => (settle = resolve)).then((r) => ({ ...r, changedWhileHeld }));
  const sink: BlobSink = {
    start: (t) => void (transfer = t),
    write(view) {
      // The view is only ours until write returns (or until resume): copy it.
      chunks.push(Buffer.from(view));
      bytes += view.length;
      writes++;
      if (bytes >= cancelAfter) {
        transfer.cancel();
        settle({ bytes: Buffer.concat(chunks), ended: false });
        return false;
      }
      if (stallEvery && writes % stallEvery === 0) {
        const copy = chunks[chunks.length - 1];
        setTimeout(() => {
          if (!view.equals(copy)) changedWhileHeld++;
          transfer.resume();
        }, 2);
        return false;
      }
      return true;
    },
    // The last view may be held: give its resume a moment before reading the result.
    end: () => setTimeout(() => settle({ bytes: Buffer.concat(chunks), ended: true }), 5),
    fail: (err) => settle({ bytes: Buffer.concat(chunks), ended: false, failed: err }),
  };
  return { sink, result };
}
