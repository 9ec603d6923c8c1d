/**
 * What only a gateway on a shared volume does (the contract suite covers the rest): which reads
 * take the file and which go to storage, and that every one gets storage's bytes; which writes it
 * places on the volume itself, only where storage sees its files, and what they leave behind.
 */
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import test from 'ava';
import {
  AppError,
  COMMANDS,
  PLACE_FROM_BYTES,
  blobFilePath,
  metrics,
  newId,
  SharedVolume,
  type BlobSink,
  type StoredBlob,
  type UploadMeta,
  type UploadRecord,
} from '@fileshare/shared';
import { sha256 } from '../helpers/fixtures.js';
import { collector, DATA_PLANE_SECRET, startStorageFixture, type StorageFixture } from '../helpers/storage-fixture.js';
import { writeLent } from '../helpers/stream.js';
import { tempDir } from '../helpers/tmp.js';

let f: StorageFixture;
let volume: SharedVolume;
const large = randomBytes(2 * 1024 * 1024 + 5);
const small = randomBytes(3000); // a row of blobs.db, never a file
let largeKey: string;
let smallKey: string;

async function store(bytes: Buffer): Promise<string> {
  const w = f.http.createBlob({ maxBytes: bytes.length });
  w.end(bytes);
  return (await w.done).key;
}

/** A volume/storage counter's increments while `fn` runs. */
async function countedBy(counter: typeof metrics.blobReads | typeof metrics.blobWrites, label: string, fn: () => Promise<void>): Promise<{ volume: number; storage: number }> {
  const now = async () => {
    const values = (await counter.get()).values;
    const of = (where: string) => values.find((v) => (v.labels as Record<string, string>)[label] === where)?.value ?? 0;
    return { volume: of('volume'), storage: of('storage') };
  };
  const before = await now();
  await fn();
  const after = await now();
  return { volume: after.volume - before.volume, storage: after.storage - before.storage };
}
/** Reads counted per source while `fn` runs. */
const counted = (fn: () => Promise<void>) => countedBy(metrics.blobReads, 'from', fn);
/** New blobs counted per destination while `fn` runs. */
const written = (fn: () => Promise<void>) => countedBy(metrics.blobWrites, 'to', fn);

async function download(plane: SharedVolume, key: string, length: number, stallEvery = 0): Promise<Buffer> {
  const { sink, result } = collector(stallEvery);
  await plane.sendBlob(key, { start: 0, end: length - 1 }, sink);
  const r = await result;
  if (!r.ended) throw r.failed ?? new Error('transfer did not end');
  return r.bytes;
}

test.before(async () => {
  f = await startStorageFixture();
  volume = new SharedVolume(f.http, f.dir, { reads: true, writes: false });
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
  const missing = new SharedVolume(f.http, join(elsewhere, 'nothing-here'), { reads: true, writes: false });
  let got: Buffer = Buffer.alloc(0);
  t.deepEqual(await counted(async () => void (got = await download(missing, largeKey, large.length))), { volume: 0, storage: 1 });
  t.true(got.equals(large));
  // A shorter file under the same key (a stale copy, a different mount): not the whole blob, so storage.
  const stale = new SharedVolume(f.http, elsewhere, { reads: true, writes: false });
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

const tmpFiles = (dir: string) => readdirSync(join(dir, 'tmp'));
const meta = (m: Partial<UploadMeta> = {}): UploadMeta => ({ owner: 'alice', name: 'a.bin', contentType: 'application/octet-stream', ttl: 60, ...m });

test.serial('writes: a large or undeclared body is placed on the volume under a guard that its record takes; a small one goes to storage', async (t) => {
  const plane = new SharedVolume(f.http, f.dir, { reads: true, writes: true });
  await plane.probed;
  try {
    const before = f.holdings();
    const bytes = randomBytes(PLACE_FROM_BYTES + 17);
    let blob!: StoredBlob;
    t.deepEqual(
      await written(async () => {
        const w = plane.createBlob({ maxBytes: bytes.length, expectedBytes: bytes.length });
        await writeLent(w, bytes, 65536);
        blob = await w.done;
      }),
      { volume: 1, storage: 0 },
    );
    t.like(blob, { size: bytes.length, sha256: sha256(bytes) });
    t.true(readFileSync(blobFilePath(join(f.dir, 'blobs'), blob.key)!).equals(bytes), 'the file is in storage’s layout');
    // A blob without a record yet is guarded, as storage's own are: one more expiry entry.
    t.deepEqual(f.holdings(), { ...before, blobs: before.blobs + 1, scheduled: before.scheduled + 1 });

    let rec!: UploadRecord;
    t.deepEqual(
      await written(async () => {
        const u = plane.createUpload({ maxBytes: bytes.length, meta: Promise.resolve(meta()) }); // chunked: length unknown
        u.end(bytes);
        rec = await u.record;
      }),
      { volume: 1, storage: 0 },
    );
    t.like(rec, { owner: 'alice', size: bytes.length, sha256: sha256(bytes), blob: rec.id });
    t.deepEqual(await f.bus.request(COMMANDS.uploadGet, { id: rec.id }), rec);
    // Its record's expiry entry replaced its guard.
    t.deepEqual(f.holdings(), { blobs: before.blobs + 2, uploads: before.uploads + 1, scheduled: before.scheduled + 2 });
    t.true((await download(volume, rec.blob, bytes.length)).equals(bytes));

    const small = randomBytes(5000);
    t.deepEqual(
      await written(async () => {
        const u = plane.createUpload({ maxBytes: small.length, meta: Promise.resolve(meta()), expectedBytes: small.length + 200 });
        u.end(small);
        t.is((await u.record).size, small.length);
      }),
      { volume: 0, storage: 1 },
    );
    t.deepEqual(tmpFiles(f.dir), [], 'no temp file or probe left');
  } finally {
    plane.close();
  }
});

test.serial('writes: placed bytes that get no record (refused fields, another digest, too large, a cut body) leave nothing behind', async (t) => {
  const plane = new SharedVolume(f.http, f.dir, { reads: true, writes: true });
  await plane.probed;
  try {
    const bytes = randomBytes(2 * PLACE_FROM_BYTES);
    await f.storage.dataPlane.settled();
    const before = f.holdings();
    const refused = plane.createUpload({ maxBytes: bytes.length, meta: Promise.reject(new AppError('invalid_ttl')) });
    refused.end(bytes);
    t.is((await t.throwsAsync<AppError>(refused.record))?.code, 'invalid_ttl');
    const digest = plane.createUpload({ maxBytes: bytes.length, meta: Promise.resolve(meta({ sha256: sha256(Buffer.from('other')) })) });
    digest.end(bytes);
    t.is((await t.throwsAsync<AppError>(digest.record))?.code, 'digest_mismatch');
    const tooLarge = plane.createUpload({ maxBytes: PLACE_FROM_BYTES, meta: Promise.resolve(meta()) });
    tooLarge.end(bytes);
    t.is((await t.throwsAsync<AppError>(tooLarge.record))?.code, 'file_too_large');
    const cut = plane.createBlob({ maxBytes: bytes.length });
    cut.write(bytes.subarray(0, PLACE_FROM_BYTES));
    await new Promise((r) => setTimeout(r, 50)); // its guard taken and bytes on disk
    cut.destroy(new AppError('incomplete_body'));
    await t.throwsAsync(cut.done);
    await f.storage.dataPlane.settled();
    t.deepEqual(f.holdings(), before);
    t.deepEqual(tmpFiles(f.dir), []);
  } finally {
    plane.close();
  }
});

test.serial('writes: a gateway whose data directory storage does not see sends its bytes through storage', async (t) => {
  const elsewhere = tempDir('fs-volume-');
  mkdirSync(join(elsewhere, 'blobs'));
  mkdirSync(join(elsewhere, 'tmp'));
  const plane = new SharedVolume(f.http, elsewhere, { reads: true, writes: true });
  await plane.probed;
  try {
    const bytes = randomBytes(PLACE_FROM_BYTES * 2);
    let rec!: UploadRecord;
    t.deepEqual(
      await written(async () => {
        const u = plane.createUpload({ maxBytes: bytes.length, meta: Promise.resolve(meta()) });
        u.end(bytes);
        rec = await u.record;
      }),
      { volume: 0, storage: 1 },
    );
    t.true((await download(volume, rec.blob, bytes.length)).equals(bytes));
    t.deepEqual(readdirSync(join(elsewhere, 'blobs')), [], 'nothing written on the other volume, its probe removed');
    t.deepEqual(tmpFiles(elsewhere), [], 'its probe removed');
  } finally {
    plane.close();
  }
});

test.serial('storage answers malformed volume requests with a 400 and takes no name for a path', async (t) => {
  const put = (path: string, headers: Record<string, string> = {}) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request({ port: f.port, path, method: 'PUT', headers: { 'x-fileshare-internal': DATA_PLANE_SECRET, ...headers } }, (r) => {
        let body = '';
        r.on('data', (c) => (body += c));
        r.on('end', () => resolve({ status: r.statusCode!, body }));
      });
      req.on('error', reject);
      req.end();
    });
  t.is((await put('/volume/guard/not-an-id')).status, 400);
  t.is((await put('/volume/drop/not-an-id')).status, 400);
  t.is((await put(`/volume/uploads/${newId()}`, { 'x-fileshare-size': '-1', 'x-fileshare-sha256': 'x' })).status, 400);
  // A blob that is not on storage's volume gets no record.
  const missing = await put(`/volume/uploads/${newId()}`, { 'x-fileshare-size': '5', 'x-fileshare-sha256': sha256(Buffer.from('hello')), trailer: 'x-fileshare-upload' });
  t.is(missing.status, 400, missing.body);
  // The probe reads only tmp/ and blobs/volume-probe-<id>, and both must hold the token.
  writeFileSync(join(f.dir, 'tmp', 'secret'), 'token');
  t.deepEqual(JSON.parse((await put('/volume/probe/secret', { 'x-fileshare-probe': 'token' })).body), { shared: false });
  t.is((await put('/volume/probe/..%2Fblobs.db')).status, 404);
  unlinkSync(join(f.dir, 'tmp', 'secret'));
  const probe = `volume-probe-${newId()}`;
  writeFileSync(join(f.dir, 'tmp', probe), 'token');
  const seen = async () => JSON.parse((await put(`/volume/probe/${probe}`, { 'x-fileshare-probe': 'token' })).body) as { shared: boolean };
  t.deepEqual(await seen(), { shared: false }, 'not in blobs/');
  writeFileSync(join(f.dir, 'blobs', probe), 'token');
  t.deepEqual(await seen(), { shared: true });
  t.deepEqual(JSON.parse((await put(`/volume/probe/${probe}`, { 'x-fileshare-probe': 'other' })).body), { shared: false }, 'another token');
  unlinkSync(join(f.dir, 'tmp', probe));
  unlinkSync(join(f.dir, 'blobs', probe));
});
