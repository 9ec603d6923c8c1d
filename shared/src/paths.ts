import { join, resolve } from 'node:path';
import type { Config } from './config.js';
import { isId } from './ids.js';

/** Where things live under `dataDir` unless configured elsewhere. */
export function dataPaths(cfg: Config) {
  const dir = resolve(cfg.dataDir);
  return {
    dataDir: dir,
    blobs: join(dir, 'blobs'),
    sqlite: cfg['store.sqlitePath'] ? resolve(cfg['store.sqlitePath']) : join(dir, 'fileshare.db'),
    usersFile: cfg['auth.usersFile'] ? resolve(cfg['auth.usersFile']) : join(dir, 'users.json'),
    tlsKey: cfg['http.tls.keyFile'] ? resolve(cfg['http.tls.keyFile']) : join(dir, 'tls', 'key.pem'),
    tlsCert: cfg['http.tls.certFile'] ? resolve(cfg['http.tls.certFile']) : join(dir, 'tls', 'cert.pem'),
  };
}

/**
 * Where the fs blob backend keeps the finished blob `key` under its `blobs` directory
 * (`<first two characters>/<key>`); undefined for a key that is no id (never a path from user input).
 */
export function blobFilePath(blobsDir: string, key: string): string | undefined {
  return isId(key) ? join(blobsDir, key.slice(0, 2), key) : undefined;
}
