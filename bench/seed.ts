import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import { createClient } from '@keyv/redis';
import { createLogger, type UploadRecord } from '@fileshare/shared';
import { RedisStore, SqliteStore } from '@fileshare/shared/implementations';

/**
 * Bulk-load upload records (with their expiry-index entries) straight into a store, in the
 * exact format the store's own `set`/`schedule` write — learned by writing one record through
 * the real store class and reading it back raw — so the service sees them as its own.
 * Per-record calls would take an fsync (SQLite) or a round trip (Redis) each: far too slow for 1M.
 */
const log = createLogger({ 'log.level': 'silent' }, 'bench');

/** A seeded upload record; `blob` (a real blob's key) makes it downloadable, else it names none. */
function record(now: number, dueAt: number, blob?: { key: string; size: number; sha256: string }): UploadRecord {
  const id = randomUUID();
  return {
    id,
    owner: 'seed',
    name: 'seed.bin',
    contentType: 'application/octet-stream',
    size: blob?.size ?? 4096,
    sha256: blob?.sha256 ?? '0'.repeat(64),
    blob: blob?.key ?? id,
    ttl: 3600,
    createdAt: now,
    expiresAt: dueAt,
  };
}

/** The blob every seeded record points at, when the records must be downloadable. */
export type SeedBlob = { key: string; size: number; sha256: string };

/** Templates from one real write: raw key and value for `upload:<id>`. */
function template(rawKey: string, rawValue: string, probe: UploadRecord) {
  const valueJson = JSON.stringify(probe);
  if (!rawKey.includes(`upload:${probe.id}`) || !rawValue.includes(valueJson)) throw new Error(`unexpected raw format: ${rawKey} ${rawValue}`);
  const [kPre, kPost] = rawKey.split(`upload:${probe.id}`);
  const [vPre, vPost] = rawValue.split(valueJson);
  return (r: UploadRecord) => [`${kPre}upload:${r.id}${kPost}`, `${vPre}${JSON.stringify(r)}${vPost}`] as const;
}

export async function seedSqlite(path: string, count: number, dueAt: (i: number) => number, blob?: SeedBlob): Promise<string[]> {
  const store = new SqliteStore(path);
  const probe = record(Date.now(), Date.now() + 3_600_000);
  await store.set(`upload:${probe.id}`, probe);
  await store.close();
  const db = new Database(path);
  db.pragma('busy_timeout = 10000');
  const row = db.prepare('SELECT key, value FROM kv WHERE key LIKE ?').get(`%upload:${probe.id}`) as { key: string; value: string };
  const make = template(row.key, row.value, probe);
  const insKv = db.prepare('INSERT OR REPLACE INTO kv (key, value, expires) VALUES (?, ?, NULL)');
  const insSch = db.prepare('INSERT OR REPLACE INTO schedule (item, due) VALUES (?, ?)');
  const ids: string[] = [];
  const now = Date.now();
  const batch = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const r = record(now, dueAt(i), blob);
      const [k, v] = make(r);
      insKv.run(k, v);
      insSch.run(`upload:${r.id}`, r.expiresAt);
      ids.push(r.id);
    }
  });
  for (let i = 0; i < count; i += 50_000) batch(i, Math.min(count, i + 50_000));
  // Bulk loading from a second connection leaves every page in the WAL (hundreds of MB for 1M
  // records): a state the service's own writes never produce (autocheckpoint keeps its WAL near
  // 4 MB), and one whose checkpoint would land, all at once, on whatever runs next. Checkpoint
  // here (synchronous: on disk when it returns), so the database is as the service leaves it.
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  return ids;
}

export async function seedRedis(url: string, count: number, dueAt: (i: number) => number, blob?: SeedBlob): Promise<string[]> {
  const store = await RedisStore.connect(url, log);
  const probe = record(Date.now(), Date.now() + 3_600_000);
  await store.set(`upload:${probe.id}`, probe);
  await store.close();
  const client = createClient({ url });
  await client.connect();
  const keys = await client.sendCommand<string[]>(['KEYS', `*upload:${probe.id}`]);
  const raw = await client.sendCommand<string>(['GET', keys[0]]);
  const make = template(keys[0], raw, probe);
  const ids: string[] = [];
  const now = Date.now();
  const pending: Promise<unknown>[] = [];
  for (let i = 0; i < count; i += 1000) {
    const mset: string[] = ['MSET'];
    const zadd: string[] = ['ZADD', 'fs:expiry'];
    for (let j = i; j < Math.min(count, i + 1000); j++) {
      const r = record(now, dueAt(j), blob);
      mset.push(...make(r));
      zadd.push(String(r.expiresAt), `upload:${r.id}`);
      ids.push(r.id);
    }
    pending.push(client.sendCommand(mset), client.sendCommand(zadd));
    if (pending.length >= 64) await Promise.all(pending.splice(0));
  }
  await Promise.all(pending);
  await client.close();
  return ids;
}
