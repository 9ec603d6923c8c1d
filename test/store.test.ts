import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@fileshare/shared';
import { RedisStore, SqliteStore } from '@fileshare/shared/implementations';
import { storeContract } from './contracts/store.contract.js';
import { startRedis } from './helpers/engines.js';

const log = createLogger({ 'log.level': 'silent' }, 'test');

storeContract('sqlite store', async () => {
  const store = new SqliteStore(join(mkdtempSync(join(tmpdir(), 'fs-sqlite-')), 'test.db'));
  return { store, close: () => store.close() };
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
