import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import test from 'ava';
import { AppError, newId } from '@fileshare/shared';
import { appends, defersWhole, sendsRanges, type BlobStore } from '@fileshare/storage';
import { collector } from '../helpers/storage-fixture.js';
import { writeLent } from '../helpers/stream.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
async function readAll(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Optional capabilities a store declares (blob-store.ts); the contract checks each one it has, and that it has them. */
export type BlobStoreCapability = 'ranges' | 'appends' | 'defersWhole';

/**
 * What every BlobStore must do. `objects()` lists what the backend holds right now (files on
 * disk, objects in the bucket), so "nothing left behind" is checked on the backend itself.
 */
export function blobStoreContract(
  label: string,
  make: () => Promise<{ store: BlobStore; objects(): string[]; close(): Promise<void> }>,
  capabilities: BlobStoreCapability[] = [],
): void {
  let s: BlobStore;
  let objects: () => string[];
  let close: () => Promise<void>;
  test.before(async () => ({ store: s, objects, close } = await make()));
  test.after.always(async () => close?.());

  test.serial(`${label}: a blob streams in, reports size and sha256, streams out whole and in ranges`, async (t) => {
    const data = randomBytes(3 * 1024 * 1024 + 17);
    const key = newId();
    const w = s.create(key, { maxBytes: data.length });
    await pipeline(Readable.from([data.subarray(0, 1000), data.subarray(1000)]), w);
    t.deepEqual(await w.done, { key, size: data.length, sha256: sha(data) });
    t.deepEqual(await readAll(await s.open(key)), data);
    t.deepEqual(await readAll(await s.open(key, { start: 5, end: 1_000_004 })), data.subarray(5, 1_000_005));
    t.is(await s.delete(key), data.length);
    t.is(await s.delete(key), 0, 'delete is idempotent');
    const e = await t.throwsAsync(s.open(key));
    t.is((e as AppError).code, 'not_found');
  });

  test.serial(`${label}: small blobs, many at once, stream out whole and in ranges; each deletes once`, async (t) => {
    const before = objects().length;
    const blobs = Array.from({ length: 40 }, (_, i) => ({ key: newId(), data: randomBytes(100 + i * 97) }));
    await Promise.all(
      blobs.map(async ({ key, data }) => {
        const w = s.create(key, { maxBytes: data.length });
        await pipeline(Readable.from([data.subarray(0, 50), data.subarray(50)]), w);
        t.deepEqual(await w.done, { key, size: data.length, sha256: sha(data) });
      }),
    );
    t.is(objects().length, before + blobs.length);
    for (const { key, data } of blobs) {
      t.deepEqual(await readAll(await s.open(key)), data);
      t.deepEqual(await readAll(await s.open(key, { start: 3, end: 60 })), data.subarray(3, 61));
    }
    t.deepEqual(
      await Promise.all(blobs.map(({ key }) => s.delete(key))),
      blobs.map(({ data }) => data.length),
    );
    t.is(objects().length, before);
  });

  // 1000 bytes: held in memory by a store that keeps small blobs apart; 3 MiB: written out.
  for (const [size, chunk] of [
    [1000, 100],
    [3 * 1024 * 1024 + 5, 64 * 1024],
  ]) {
    test.serial(`${label}: chunks are lent: refilled after their write callback, ${size} bytes are stored intact`, async (t) => {
      const data = randomBytes(size);
      const key = newId();
      const w = s.create(key, { maxBytes: size });
      await writeLent(w, data, chunk);
      t.deepEqual(await w.done, { key, size, sha256: sha(data) });
      t.deepEqual(await readAll(await s.open(key)), data);
      await s.delete(key);
    });
  }

  test.serial(`${label}: an empty blob is a blob`, async (t) => {
    const key = newId();
    const w = s.create(key, { maxBytes: 10 });
    w.end();
    t.deepEqual(await w.done, { key, size: 0, sha256: sha(Buffer.alloc(0)) });
    t.is((await readAll(await s.open(key))).length, 0);
    await s.delete(key);
  });

  test.serial(`${label}: more than maxBytes fails with file_too_large and leaves nothing`, async (t) => {
    const before = objects().length;
    const key = newId();
    const w = s.create(key, { maxBytes: 1000 });
    const e = await t.throwsAsync(pipeline(Readable.from([Buffer.alloc(600), Buffer.alloc(600)]), w));
    t.is((e as AppError).code, 'file_too_large');
    await t.throwsAsync(w.done);
    await new Promise((r) => setTimeout(r, 200));
    t.is(objects().length, before);
    await t.throwsAsync(s.open(key));
  });

  // 1000 bytes: still held in memory by a store that keeps small blobs apart; 256 KiB: written out.
  for (const size of [1000, 256 * 1024]) {
    test.serial(`${label}: an aborted write (${size} bytes in) leaves nothing and was never visible`, async (t) => {
      const before = objects().length;
      const key = newId();
      const w = s.create(key, { maxBytes: 1e9 });
      w.write(randomBytes(size));
      await new Promise((r) => setTimeout(r, 100));
      await t.throwsAsync(s.open(key), undefined, 'invisible before done');
      w.destroy(new Error('client went away'));
      await t.throwsAsync(w.done);
      await new Promise((r) => setTimeout(r, 300));
      t.is(objects().length, before);
      await t.throwsAsync(s.open(key));
    });
  }

  test.serial(`${label}: onStart runs before the first byte; a failing onStart fails the write`, async (t) => {
    const calls: string[] = [];
    const key = newId();
    const w = s.create(key, { maxBytes: 100, onStart: async () => void calls.push('start') });
    w.end(Buffer.from('x'));
    await w.done;
    t.deepEqual(calls, ['start']);
    await s.delete(key);
    const bad = s.create(newId(), { maxBytes: 100, onStart: async () => Promise.reject(new AppError('unavailable')) });
    bad.end(Buffer.from('x'));
    const e = await t.throwsAsync(bad.done);
    t.is((e as AppError).code, 'unavailable');
  });

  test(`${label}: keys that are not ids never reach the backend`, async (t) => {
    for (const key of ['../../etc/passwd', 'a/b', '']) {
      const e = await t.throwsAsync(s.open(key));
      t.is((e as AppError).code, 'not_found');
    }
  });

  test(`${label}: ping`, async (t) => {
    await t.notThrowsAsync(s.ping());
  });

  test.serial(`${label}: has exactly the capabilities it declares`, (t) => {
    t.is(sendsRanges(s), capabilities.includes('ranges'));
    t.is(appends(s), capabilities.includes('appends'));
    t.is(defersWhole(s), capabilities.includes('defersWhole'));
  });

  if (capabilities.includes('defersWhole')) {
    test.serial(`${label}: a blob given whole is left to its record only where the store can, and written only then`, async (t) => {
      if (!defersWhole(s)) return t.fail('no deferWhole');
      const before = objects();
      t.is(s.deferWhole(newId(), randomBytes(70_000)), undefined, 'a large one is never left to a record');
      const bytes = randomBytes(1000);
      const key = newId();
      const blob = s.deferWhole(key, bytes);
      t.deepEqual(objects(), before, 'nothing written yet');
      if (!blob) return; // this configuration writes small blobs through create()
      t.like(blob, { key, size: bytes.length, sha256: sha(bytes) });
      t.is((await t.throwsAsync<AppError>(s.open(key)))?.code, 'not_found');
      await blob.pending!();
      t.true((await readAll(await s.open(key))).equals(bytes));
      await s.delete(key);
      t.deepEqual(objects(), before);
    });
  }

  if (capabilities.includes('appends')) {
    test.serial(`${label}: a growing blob: appends, a failed append cut back, sealed (idempotent) without a copy, deleted`, async (t) => {
      if (!appends(s)) return t.fail('no appends');
      const g = s;
      const data = randomBytes(3 * 1024 * 1024 + 11);
      const key = newId();
      const add = (at: number, bytes: Buffer, maxBytes = data.length - at) => {
        const w = g.append(key, at, { maxBytes });
        w.end(bytes);
        return w.done;
      };
      t.deepEqual(await add(0, data.subarray(0, 1_000_000)), { size: 1_000_000 });
      await t.throwsAsync(s.open(key), undefined, 'invisible until sealed');
      // An append that fails after writing (too large here) leaves bytes past the offset: the next one cuts them.
      const refused = await t.throwsAsync(add(1_000_000, Buffer.alloc(10_000, 1), 5_000));
      t.is((refused as AppError).code, 'file_too_large');
      t.deepEqual(await add(1_000_000, data.subarray(1_000_000, 2_500_000)), { size: 1_500_000 });
      await add(2_500_000, data.subarray(2_500_000));
      await t.throwsAsync(add(data.length + 5, Buffer.alloc(1)), undefined, 'an offset past the durable bytes is refused');
      const sealed = await s.seal(key, data.length);
      t.deepEqual(sealed, { key, size: data.length, sha256: sha(data) });
      t.deepEqual(await s.seal(key, data.length, 'given'), { key, size: data.length, sha256: 'given' }, 'sealing again finds it sealed');
      t.true((await readAll(await s.open(key))).equals(data));
      const empty = newId();
      t.deepEqual(await s.seal(empty, 0), { key: empty, size: 0, sha256: sha(Buffer.alloc(0)) }, 'never appended to: an empty blob');
      await s.delete(empty);
      await s.delete(key);
      await t.throwsAsync(s.open(key));
      // A growing blob deleted before it was sealed leaves nothing.
      const other = newId();
      const w = s.append(other, 0, { maxBytes: 100 });
      w.end(Buffer.alloc(50));
      await w.done;
      const before = objects().length;
      await s.delete(other);
      t.is(objects().length, before - 1, 'the growing blob is gone');
    });
  }

  if (capabilities.includes('ranges')) {
    test.serial(`${label}: sendRange hands exact ranges to a sink through held views; a missing blob is not_found before start`, async (t) => {
      if (!sendsRanges(s)) return t.fail('no sendRange');
      const data = randomBytes(2 * 1024 * 1024 + 5);
      const key = newId();
      const w = s.create(key, { maxBytes: data.length });
      w.end(data);
      await w.done;
      for (const [start, end] of [
        [0, data.length - 1],
        [0, 0],
        [700_000, 1_600_000],
        [data.length - 3, data.length - 1],
      ]) {
        const { sink, result } = collector(2);
        await s.sendRange(key, { start, end }, sink);
        const r = await result;
        t.true(r.ended && r.bytes.equals(data.subarray(start, end + 1)), `bytes ${start}-${end}`);
        t.is(r.changedWhileHeld, 0, `bytes ${start}-${end}: a held view changed before it was let go`);
      }
      let started = false;
      const e = await t.throwsAsync(
        s.sendRange(newId(), { start: 0, end: 9 }, { start: () => void (started = true), write: () => true, end: () => undefined, fail: () => undefined }),
      );
      t.is((e as AppError).code, 'not_found');
      t.false(started);
      await s.delete(key);
    });
  }
}
