import { join } from 'node:path';
import { createLogger } from '@fileshare/shared';
import { FsBlobStore } from '@fileshare/storage';
import { S3BlobStore } from '../../services/storage/src/blob/s3-blob-store.js';
import { blobStoreContract } from '../contracts/blob-store.contract.js';
import { S3_ENV, startS3 } from '../helpers/engines.js';
import { filesUnder, fsBlobs } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/tmp.js';

const log = createLogger({ 'log.level': 'silent' }, 'test');

blobStoreContract(
  'fs blob store, every blob a file',
  async () => {
    const root = tempDir('fs-blobs-');
    const store = new FsBlobStore(root, { inlineMaxBytes: 0 });
    await store.init();
    return { store, objects: () => filesUnder(root), close: () => store.close() };
  },
  ['ranges', 'appends'],
);

blobStoreContract(
  'fs blob store, small blobs in blobs.db',
  async () => {
    const root = tempDir('fs-blobs-');
    const store = new FsBlobStore(root, { inlineMaxBytes: 64 * 1024 });
    await store.init();
    return { store, objects: () => fsBlobs(root), close: () => store.close() };
  },
  ['ranges', 'appends'],
);

blobStoreContract('s3 blob store', async () => {
  const s3 = await startS3();
  Object.assign(process.env, S3_ENV);
  const store = new S3BlobStore(
    {
      bucket: s3.bucket,
      prefix: 'blobs/',
      partSize: 5 * 1024 * 1024,
      queueSize: 2,
      createBucket: false,
      client: { endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true },
    },
    log,
  );
  await store.init();
  return {
    store,
    objects: () => filesUnder(join(s3.dir, s3.bucket)).filter((f) => f.endsWith('._S3rver_object')),
    async close() {
      await store.close();
      await s3.proc.stop();
    },
  };
});
