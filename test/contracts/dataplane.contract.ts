import { createHash, randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import test from 'ava';
import { COMMANDS, newId, type AppError, type BlobSink, type DataPlane, type UploadMeta } from '@fileshare/shared';
import { collector, startStorageFixture, type StorageFixture } from '../helpers/storage-fixture.js';
import { writeLent } from '../helpers/stream.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/**
 * What every DataPlane must do, against a real storage service: `pick` chooses the implementation
 * under test from the fixture (storage's own object in-process, or the HTTP client to its server).
 */
export function dataPlaneContract(label: string, pick: (f: StorageFixture) => DataPlane | Promise<DataPlane>, fixture: Parameters<typeof startStorageFixture>[0] = {}): void {
  let f: StorageFixture;
  let plane: DataPlane;
  const data = randomBytes(3 * 1024 * 1024 + 123);
  let key: string;
  test.before(async () => {
    f = await startStorageFixture(fixture);
    plane = await pick(f);
    const w = plane.createBlob({ maxBytes: data.length });
    w.end(data);
    key = (await w.done).key;
  });
  test.after.always(async () => f?.close());

  test.serial(`${label}: a whole blob arrives intact through held and resumed views`, async (t) => {
    const { sink, result } = collector(3);
    await plane.sendBlob(key, { start: 0, end: data.length - 1 }, sink);
    const r = await result;
    t.true(r.ended);
    t.is(sha(r.bytes), sha(data));
  });

  test.serial(`${label}: ranges are exact, at the edges and across read buffers`, async (t) => {
    for (const [start, end] of [
      [0, 0],
      [5, 70_000],
      [data.length - 10, data.length - 1],
      [1_000_000, 2_999_999],
    ]) {
      const { sink, result } = collector(2);
      await plane.sendBlob(key, { start, end }, sink);
      t.true((await result).bytes.equals(data.subarray(start, end + 1)), `bytes ${start}-${end}`);
    }
  });

  test.serial(`${label}: an upload whose chunks are refilled right after their write callbacks is stored intact`, async (t) => {
    // The gateway lends its receive buffers to the writer: a callback must mean "the bytes are taken".
    const up = randomBytes(8 * 1024 * 1024 + 7);
    const w = plane.createBlob({ maxBytes: up.length });
    await writeLent(w, up, 8 * 1024, 16);
    const blob = await w.done;
    t.is(blob.sha256, sha(up));
    const { sink, result } = collector();
    await plane.sendBlob(blob.key, { start: 0, end: up.length - 1 }, sink);
    t.true((await result).bytes.equals(up));
  });

  test.serial(`${label}: resumable chunks whose buffers are refilled right after their write callbacks make an intact upload`, async (t) => {
    const up = randomBytes(3 * 1024 * 1024 + 5);
    const created = await f.bus.request(COMMANDS.resumableCreate, { owner: 'alice', name: 'r.bin', contentType: 'application/octet-stream', ttl: 60, length: up.length });
    const cut = 2 * 1024 * 1024 + 3;
    let offset = 0;
    for (const [start, end] of [
      [0, cut],
      [cut, up.length],
    ]) {
      const w = plane.appendUpload({ id: created.id, owner: 'alice', offset, maxBytes: up.length, complete: end === up.length });
      // Small lent chunks arrive faster than the blob writes them: batches, each chunk poisoned once called back.
      await writeLent(w, up.subarray(start, end), 8 * 1024, 16);
      const state = await w.state;
      t.is(state.offset, end);
      offset = end;
    }
    const rec = await f.bus.request(COMMANDS.uploadGet, { id: created.id });
    t.is(rec.sha256, sha(up));
    const { sink, result } = collector();
    await plane.sendBlob(rec.blob, { start: 0, end: up.length - 1 }, sink);
    t.true((await result).bytes.equals(up));
  });

  test.serial(`${label}: an upload carries its record: fields given after the last byte, one record, bytes intact`, async (t) => {
    const bytes = randomBytes(10_000);
    let describe!: (m: UploadMeta) => void;
    const w = plane.createUpload({ maxBytes: bytes.length, meta: new Promise((resolve) => (describe = resolve)) });
    w.write(bytes.subarray(0, 1000));
    w.write(Buffer.alloc(0)); // nothing to send; must not end the body
    w.end(bytes.subarray(1000));
    await new Promise((r) => setTimeout(r, 50)); // the writer waits for the fields
    describe({ owner: 'alice', name: 'naïve résumé.txt', contentType: 'text/plain', ttl: 60 });
    const rec = await w.record;
    t.like(rec, { owner: 'alice', name: 'naïve résumé.txt', contentType: 'text/plain', ttl: 60, size: bytes.length, sha256: sha(bytes) });
    t.like(await w.done, { key: rec.blob, size: bytes.length, sha256: sha(bytes) });
    t.deepEqual(await f.bus.request(COMMANDS.uploadGet, { id: rec.id }), rec);
    const { sink, result } = collector();
    await plane.sendBlob(rec.blob, { start: 0, end: bytes.length - 1 }, sink);
    t.true((await result).bytes.equals(bytes));
  });

  test.serial(`${label}: an upload whose fields are refused, or that is too large, leaves nothing behind`, async (t) => {
    const before = f.holdings();
    const refused = plane.createUpload({ maxBytes: 100_000, meta: Promise.reject(new Error('refused')) });
    refused.end(randomBytes(70_000)); // a file, not an inline row
    await t.throwsAsync(refused.record);
    const tooLarge = plane.createUpload({ maxBytes: 1000, meta: Promise.resolve({ owner: 'a', name: 'n', contentType: 't', ttl: 5 }) });
    tooLarge.on('error', () => undefined);
    tooLarge.end(randomBytes(5000));
    t.is((await t.throwsAsync<AppError>(tooLarge.record))?.code, 'file_too_large');
    await f.storage.dataPlane.settled();
    t.deepEqual(f.holdings(), before);
  });

  test.serial(`${label}: a form's bytes given whole become an upload: record and bytes intact, small or not`, async (t) => {
    for (const size of [0, 4096, 70_000]) {
      const before = f.holdings();
      const bytes = randomBytes(size);
      const meta: UploadMeta = { owner: 'alice', name: `whole-${size}.bin`, contentType: 'application/octet-stream', ttl: 60, maxDownloads: 2, sha256: sha(bytes) };
      const rec = await plane.storeUpload({ bytes, maxBytes: 100_000, meta });
      t.like(rec, { owner: 'alice', name: meta.name, ttl: 60, maxDownloads: 2, size, sha256: sha(bytes) }, `${size} bytes`);
      t.deepEqual(await f.bus.request(COMMANDS.uploadGet, { id: rec.id }), rec);
      const after = f.holdings();
      t.deepEqual(after, { blobs: before.blobs + 1, uploads: before.uploads + 1, scheduled: before.scheduled + 1 }, `${size} bytes: one blob, one record, one expiry entry`);
      if (size === 0) continue;
      const { sink, result } = collector();
      await plane.sendBlob(rec.blob, { start: 0, end: size - 1 }, sink);
      t.true((await result).bytes.equals(bytes), `${size} bytes read back`);
    }
  });

  test.serial(`${label}: a form's bytes given whole that are too large or not what the client hashed leave nothing behind`, async (t) => {
    const before = f.holdings();
    for (const size of [4096, 70_000]) {
      const bytes = randomBytes(size);
      const meta: UploadMeta = { owner: 'a', name: 'n', contentType: 't', ttl: 5 };
      t.is((await t.throwsAsync<AppError>(plane.storeUpload({ bytes, maxBytes: size - 1, meta })))?.code, 'file_too_large', `${size} bytes`);
      t.is(
        (await t.throwsAsync<AppError>(plane.storeUpload({ bytes, maxBytes: size, meta: { ...meta, sha256: sha(Buffer.from('other')) } })))?.code,
        'digest_mismatch',
        `${size} bytes`,
      );
    }
    await f.storage.dataPlane.settled();
    t.deepEqual(f.holdings(), before);
  });

  test.serial(`${label}: a missing blob rejects with not_found before anything starts`, async (t) => {
    let started = false;
    const sink: BlobSink = { start: () => void (started = true), write: () => true, end: () => undefined, fail: () => undefined };
    const e = await t.throwsAsync(plane.sendBlob(newId(), { start: 0, end: 9 }, sink));
    t.is((e as AppError).code, 'not_found');
    t.false(started);
  });

  test.serial(`${label}: a cancelled transfer stops; the next transfer is intact`, async (t) => {
    const first = collector(0, 300_000);
    await plane.sendBlob(key, { start: 0, end: data.length - 1 }, first.sink);
    const cut = await first.result;
    t.false(cut.ended);
    t.true(cut.bytes.equals(data.subarray(0, cut.bytes.length)));
    const second = collector(4);
    await plane.sendBlob(key, { start: 0, end: data.length - 1 }, second.sink);
    t.is(sha((await second.result).bytes), sha(data));
  });

  test.serial(`${label}: cancelled transfers give back what they held (files, connections)`, async (t) => {
    // The file reads and storage's server run in this process: its open descriptors tell.
    const open = () => readdirSync('/proc/self/fd').length;
    const before = open();
    for (let i = 0; i < 20; i++) {
      const cut = collector(0, 1 + i * 20_000); // cancels from inside a write, at varied places
      await plane.sendBlob(key, { start: 0, end: data.length - 1 }, cut.sink);
      t.false((await cut.result).ended);
    }
    const until = Date.now() + 3000;
    while (open() > before + 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    t.true(open() <= before + 2, `${open() - before} more descriptors open than before 20 cancelled transfers`);
  });
}
