import { join } from 'node:path';
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
