import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import test from 'ava';
import { createLogger, newId } from '@fileshare/shared';
import { DurableSqlite } from '@fileshare/shared/durable-sqlite';
import { FsBlobStore } from '@fileshare/storage';
import { S3BlobStore } from '../../services/storage/src/blob/s3-blob-store.js';
import { blobStoreContract } from '../contracts/blob-store.contract.js';
import { S3_ENV, startS3 } from '../helpers/engines.js';
import { filesUnder, fsBlobs } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/tmp.js';

const log = createLogger({ 'log.level': 'silent' }, 'test');

async function readAll(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

blobStoreContract(
  'fs blob store, every blob a file',
  async () => {
    const root = tempDir('fs-blobs-');
    const store = new FsBlobStore(root, { inlineMaxBytes: 0 });
    await store.init();
    return { store, objects: () => filesUnder(root), close: () => store.close() };
  },
  ['ranges', 'appends', 'defersWhole'],
);

blobStoreContract(
  'fs blob store, small blobs in blobs.db',
  async () => {
    const root = tempDir('fs-blobs-');
    const store = new FsBlobStore(root, { inlineMaxBytes: 64 * 1024 });
    await store.init();
    return { store, objects: () => fsBlobs(root), close: () => store.close() };
  },
  ['ranges', 'appends', 'defersWhole'],
);

blobStoreContract(
  "fs blob store, small blobs in the record store's file (all-in-one)",
  async () => {
    const root = tempDir('fs-blobs-');
    const file = new DurableSqlite(join(root, 'fileshare.db'), '');
    const store = new FsBlobStore(root, { inlineMaxBytes: 64 * 1024, inlineFile: file });
    await store.init();
    return {
      store,
      objects: () => fsBlobs(root),
      async close() {
        await store.close();
        await file.close();
      },
    };
  },
  ['ranges', 'appends', 'defersWhole'],
);

/** Writes `data` through a new writer; returns what `done` says and whether the orphan guard was asked for. */
async function write(store: FsBlobStore, data: Buffer, deferSmall: boolean) {
  const key = newId();
  let guarded = false;
  const w = store.create(key, { maxBytes: 1 << 20, deferSmall, onStart: async () => void (guarded = true) });
  await pipeline(Readable.from([data]), w);
  return { key, blob: await w.done, guarded };
}

test('fs blob store, deferSmall: a small blob sharing the record file is left to the caller, unwritten and unguarded; a large one is written as ever', async (t) => {
  const root = tempDir('fs-blobs-');
  const file = new DurableSqlite(join(root, 'fileshare.db'), '');
  const store = new FsBlobStore(root, { inlineMaxBytes: 1024, inlineFile: file });
  await store.init();
  try {
    const small = await write(store, Buffer.from('small bytes'), true);
    t.false(small.guarded, 'no orphan guard: nothing was written');
    t.is(typeof small.blob.pending, 'function');
    t.deepEqual(fsBlobs(root), []);
    await t.throwsAsync(store.open(small.key), { message: /not found/ });
    await small.blob.pending!();
    t.deepEqual(fsBlobs(root), [`fileshare.db:${small.key}`]);
    t.is((await readAll(await store.open(small.key))).toString(), 'small bytes');

    const large = await write(store, Buffer.alloc(4096, 7), true);
    t.true(large.guarded);
    t.is(large.blob.pending, undefined, 'a file is durable when done resolves');
    t.is((await readAll(await store.open(large.key))).length, 4096);

    const plain = await write(store, Buffer.from('not deferred'), false);
    t.true(plain.guarded);
    t.is(plain.blob.pending, undefined);
    t.is((await readAll(await store.open(plain.key))).toString(), 'not deferred');
  } finally {
    await store.close();
    await file.close();
  }
});

test('fs blob store, deferSmall without a shared file: ignored (blobs.db is not the record store)', async (t) => {
  const root = tempDir('fs-blobs-');
  const store = new FsBlobStore(root, { inlineMaxBytes: 1024 });
  await store.init();
  try {
    const small = await write(store, Buffer.from('small bytes'), true);
    t.true(small.guarded);
    t.is(small.blob.pending, undefined);
    t.deepEqual(fsBlobs(root), [`blobs.db:${small.key}`]);
  } finally {
    await store.close();
  }
});

test("fs blob store: small blobs an earlier version left in blobs.db are read and deleted once small blobs move to the record store's file", async (t) => {
  const root = tempDir('fs-blobs-');
  const before = new FsBlobStore(root, { inlineMaxBytes: 1024 });
  await before.init();
  const old = await write(before, Buffer.from('kept from before'), false);
  await before.close();
  const file = new DurableSqlite(join(root, 'fileshare.db'), '');
  const store = new FsBlobStore(root, { inlineMaxBytes: 1024, inlineFile: file });
  await store.init();
  try {
    t.is((await readAll(await store.open(old.key))).toString(), 'kept from before');
    const fresh = await write(store, Buffer.from('new'), false);
    t.deepEqual(fsBlobs(root).sort(), [`blobs.db:${old.key}`, `fileshare.db:${fresh.key}`].sort());
    t.is(await store.delete(old.key), 'kept from before'.length);
    t.is(await store.delete(fresh.key), 3);
    t.deepEqual(fsBlobs(root), []);
  } finally {
    await store.close();
    await file.close();
  }
});

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
