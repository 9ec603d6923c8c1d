/**
 * What only a gateway reading blobs from a shared volume does (the contract suite covers the
 * rest): which reads take the file and which go to storage, and that every one gets storage's bytes.
 */
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { blobFilePath, metrics, newId, SharedVolumeReads, type AppError, type BlobSink } from '@fileshare/shared';
import { collector, startStorageFixture, type StorageFixture } from '../helpers/storage-fixture.js';
import { tempDir } from '../helpers/tmp.js';

let f: StorageFixture;
let volume: SharedVolumeReads;
const large = randomBytes(2 * 1024 * 1024 + 5);
const small = randomBytes(3000); // a row of blobs.db, never a file
let largeKey: string;
let smallKey: string;

async function store(bytes: Buffer): Promise<string> {
  const w = f.http.createBlob({ maxBytes: bytes.length });
  w.end(bytes);
  return (await w.done).key;
}

/** Reads counted per source while `fn` runs. */
async function counted(fn: () => Promise<void>): Promise<{ volume: number; storage: number }> {
  const now = async () => {
    const values = (await metrics.blobReads.get()).values;
    const of = (from: string) => values.find((v) => v.labels.from === from)?.value ?? 0;
    return { volume: of('volume'), storage: of('storage') };
  };
  const before = await now();
  await fn();
  const after = await now();
  return { volume: after.volume - before.volume, storage: after.storage - before.storage };
}

async function download(plane: SharedVolumeReads, key: string, length: number, stallEvery = 0): Promise<Buffer> {
  const { sink, result } = collector(stallEvery);
  await plane.sendBlob(key, { start: 0, end: length - 1 }, sink);
  const r = await result;
  if (!r.ended) throw r.failed ?? new Error('transfer did not end');
  return r.bytes;
}

test.before(async () => {
  f = await startStorageFixture();
  volume = new SharedVolumeReads(f.http, join(f.dir, 'blobs'));
  largeKey = await store(large);
  smallKey = await store(small);
});
test.after.always(async () => f?.close());

test.serial('a blob stored as a file is read from the volume; one in blobs.db through storage; both intact', async (t) => {
  let got: Buffer = Buffer.alloc(0);
  t.deepEqual(await counted(async () => void (got = await download(volume, largeKey, large.length, 2))), { volume: 1, storage: 0 });
  t.true(got.equals(large));
  t.deepEqual(await counted(async () => void (got = await download(volume, smallKey, small.length))), { volume: 0, storage: 1 });
  t.true(got.equals(small));
});

test.serial('a volume that is not storage’s (missing, or holding another file under the key) leaves the read to storage', async (t) => {
  const elsewhere = tempDir('fs-volume-');
  const missing = new SharedVolumeReads(f.http, join(elsewhere, 'nothing-here'));
  let got: Buffer = Buffer.alloc(0);
  t.deepEqual(await counted(async () => void (got = await download(missing, largeKey, large.length))), { volume: 0, storage: 1 });
  t.true(got.equals(large));
  // A shorter file under the same key (a stale copy, a different mount): not the whole blob, so storage.
  const stale = new SharedVolumeReads(f.http, join(elsewhere, 'blobs'));
  const path = blobFilePath(join(elsewhere, 'blobs'), largeKey)!;
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, large.subarray(0, 1000));
  t.deepEqual(await counted(async () => void (got = await download(stale, largeKey, large.length))), { volume: 0, storage: 1 });
  t.true(got.equals(large));
  // A directory where the file should be is no blob either, nor a FIFO (opening one for reading
  // would wait for a writer: it must not hold the download, nor a thread of the pool).
  unlinkSync(path);
  mkdirSync(path);
  t.deepEqual(await counted(async () => void (got = await download(stale, largeKey, large.length))), { volume: 0, storage: 1 });
  t.true(got.equals(large));
  rmdirSync(path);
  execFileSync('mkfifo', [path]);
  t.deepEqual(await counted(async () => void (got = await download(stale, largeKey, large.length))), { volume: 0, storage: 1 });
  t.true(got.equals(large));
});

test.serial('a key that is no id builds no path: storage answers not_found', async (t) => {
  const sink: BlobSink = { start: () => t.fail('started'), write: () => true, end: () => undefined, fail: () => undefined };
  for (const key of ['../../etc/passwd', `${largeKey}/..`, '']) {
    const e = await t.throwsAsync(volume.sendBlob(key, { start: 0, end: 9 }, sink));
    t.is((e as AppError).code, 'not_found', key);
  }
  const e = await t.throwsAsync(volume.sendBlob(newId(), { start: 0, end: 9 }, sink));
  t.is((e as AppError).code, 'not_found');
});

test.serial('a blob deleted while its download is held is still delivered whole', async (t) => {
  const key = await store(large);
  let resume!: () => void;
  const chunks: Buffer[] = [];
  let first = true;
  const done = new Promise<void>((resolve, reject) => {
    const sink: BlobSink = {
      start: (tr) => void (resume = () => tr.resume()),
      write: (view) => {
        chunks.push(Buffer.from(view));
        if (!first) return true;
        first = false;
        return false;
      },
      end: () => setTimeout(resolve, 5),
      fail: reject,
    };
    void volume.sendBlob(key, { start: 0, end: large.length - 1 }, sink).catch(reject);
  });
  while (first) await new Promise((r) => setTimeout(r, 5));
  unlinkSync(blobFilePath(join(f.dir, 'blobs'), key)!);
  resume();
  await done;
  t.true(Buffer.concat(chunks).equals(large));
  const e = await t.throwsAsync(download(volume, key, large.length));
  t.is((e as AppError).code, 'not_found');
});
