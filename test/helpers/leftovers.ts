import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createClient } from '@keyv/redis';
import type { Deployment } from './deploy.js';
import { storedBlobs } from './fixtures.js';

/**
 * What a deployment holds, counted on the backends themselves: blobs (fs or S3), upload and
 * file records, and orphan guards in the expiry index (bytes written but never committed).
 */
export async function holdings(d: Deployment): Promise<{ blobs: number; uploads: number; files: number; guards: number }> {
  const blobs = storedBlobs(d).length;
  if (d.engines.redis) {
    const c = createClient({ url: d.engines.redis.url });
    await c.connect();
    const keys = await c.sendCommand<string[]>(['KEYS', '*']);
    const guards = (await c.sendCommand<string[]>(['ZRANGE', 'fs:expiry', '0', '-1'])).filter((i) => i.startsWith('blob:')).length;
    await c.close();
    return {
      blobs,
      uploads: keys.filter((k) => /(^|:)upload:[0-9a-f-]{36}$/.test(k) && !k.includes('tomb:')).length,
      files: keys.filter((k) => /(^|:)file:[0-9a-f-]{36}$/.test(k)).length,
      guards,
    };
  }
  const db = new Database(join(d.dataDir, 'fileshare.db'), { readonly: true, fileMustExist: true });
  try {
    const count = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
    return {
      blobs,
      uploads: count("SELECT count(*) n FROM kv WHERE key LIKE '%upload:%' AND key NOT LIKE '%tomb:%'"),
      files: count("SELECT count(*) n FROM kv WHERE key LIKE '%file:%'"),
      guards: count("SELECT count(*) n FROM schedule WHERE item LIKE 'blob:%'"),
    };
  } finally {
    db.close();
  }
}
