import { join } from 'node:path';
import { defaultDeserialize, defaultSerialize } from '@keyv/serialize';
import test from 'ava';
import Database from 'better-sqlite3';
import { createLogger } from '@fileshare/shared';
import { RedisStore, SqliteStore } from '@fileshare/shared/implementations';
import { storeContract } from '../contracts/store.contract.js';
import { startRedis } from '../helpers/engines.js';
import { tempDir } from '../helpers/tmp.js';

const log = createLogger({ 'log.level': 'silent' }, 'test');

storeContract('sqlite store', async () => {
  const store = new SqliteStore(join(tempDir('fs-sqlite-'), 'test.db'));
  return { store, close: () => store.close() };
});

storeContract('sqlite store, sole writer (recent records in memory)', async () => {
  const store = new SqliteStore(join(tempDir('fs-sqlite-'), 'test.db'), { soleWriter: true, recentRows: 50 });
  return { store, close: () => store.close() };
});

test('sqlite store: a file whose records keyv wrote reads the same, and what it writes keyv reads', async (t) => {
  const path = join(tempDir('fs-sqlite-'), 'test.db');
  const store = new SqliteStore(path, { soleWriter: true });
  await store.set('written:here', { name: ':colon', n: 1 }, 60_000);
  await store.close();
  const db = new Database(path);
  const row = db.prepare<[], { value: string; expires: number }>("SELECT value, expires FROM kv WHERE key = 'fs:written:here'").get()!;
  t.deepEqual(defaultDeserialize(row.value), { value: { name: ':colon', n: 1 }, expires: row.expires });
  // As keyv (namespace "fs") wrote a record: its key prefixed, its envelope serialized by @keyv/serialize.
  const expires = Date.now() + 60_000;
  db.prepare('INSERT INTO kv (key, value, expires) VALUES (?, ?, ?)').run('fs:by:keyv', defaultSerialize({ value: { s: '::x', list: [':a'] }, expires }), expires);
  db.prepare('INSERT INTO kv (key, value, expires) VALUES (?, ?, ?)').run('fs:lapsed', defaultSerialize({ value: 1, expires: Date.now() - 1 }), null);
  db.close();
  const reopened = new SqliteStore(path, { soleWriter: true });
  t.deepEqual(await reopened.get('by:keyv'), { s: '::x', list: [':a'] });
  t.is(await reopened.get('lapsed'), undefined, 'past the expiry inside the record: gone, as keyv had it');
  t.deepEqual(await reopened.get('written:here'), { name: ':colon', n: 1 });
  await reopened.close();
});

test('sqlite store, sole writer: what is kept in memory is what the file holds — after overwrites, deletes, expiry, eviction and a reopen', async (t) => {
  const path = join(tempDir('fs-sqlite-'), 'test.db');
  const store = new SqliteStore(path, { soleWriter: true, recentRows: 8 });
  const truth = new Map<string, number>();
  for (let i = 0; i < 400; i++) {
    const key = `k${i % 23}`;
    if (i % 7 === 0) {
      await store.delete(key);
      truth.delete(key);
    } else {
      await store.set(key, { i });
      truth.set(key, i);
    }
    const probe = `k${(i * 5) % 23}`;
    t.deepEqual(await store.get(probe), truth.has(probe) ? { i: truth.get(probe) } : undefined, `after step ${i}, ${probe}`);
  }
  await store.set('short', { v: 1 }, 30);
  t.deepEqual(await store.get('short'), { v: 1 });
  await new Promise((r) => setTimeout(r, 60));
  t.is(await store.get('short'), undefined, 'a kept row past its TTL is gone');
  await store.close();
  const reopened = new SqliteStore(path);
  for (const [k, v] of truth) t.deepEqual(await reopened.get(k), { i: v });
  await reopened.close();
});

test('sqlite store, sole writer: leases live in memory (the work they guard dies with the process), claims in the file', async (t) => {
  const path = join(tempDir('fs-sqlite-'), 'test.db');
  const store = new SqliteStore(path, { soleWriter: true });
  t.true(await store.lease('delivery', 60_000));
  t.true(await store.claim('spent', 60_000));
  t.true(await store.claimed('delivery'));
  await store.close();
  const reopened = new SqliteStore(path, { soleWriter: true });
  t.false(await reopened.claimed('delivery'), 'no lease outlives the process that held it');
  t.true(await reopened.claimed('spent'));
  t.true(await reopened.lease('delivery', 60_000));
  await reopened.close();
});

storeContract('redis store', async () => {
  const redis = await startRedis();
  const store = await RedisStore.connect(redis.url, log);
  return {
    store,
    async close() {
      await store.close();
      await redis.proc.stop();
    },
  };
});
