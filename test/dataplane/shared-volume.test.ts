/**
 * What only a gateway on a shared volume does (the contract suite covers the rest): which reads
 * take the file and which go to storage, and that every one gets storage's bytes; which writes it
 * places on the volume itself, only where storage sees its files, and what they leave behind.
 */
import { createHash, randomBytes } from 'node:crypto';
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
  type AppendOptions,
  type BlobSink,
  type StoredBlob,
  type UploadMeta,
  type UploadRecord,
} from '@fileshare/shared';
import { eventually, sha256 } from '../helpers/fixtures.js';
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
/** A gateway's data plane that writes on storage's volume, its first probe answered (close it). */
async function writingVolume(): Promise<SharedVolume> {
  const plane = new SharedVolume(f.http, f.dir, { reads: true, writes: true });
  await plane.probed;
  return plane;
}
const meta = (m: Partial<UploadMeta> = {}): UploadMeta => ({ owner: 'alice', name: 'a.bin', contentType: 'application/octet-stream', ttl: 60, ...m });

test.serial('writes: a large or undeclared body is placed on the volume under a guard that its record takes; a small one goes to storage', async (t) => {
  const plane = await writingVolume();
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
  const plane = await writingVolume();
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

test.serial('storage answers malformed volume requests with a 400 and takes no name for a path; a blob not on its volume is a 503', async (t) => {
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
  // A blob that is not on storage's volume gets no record (a volume not shared after all: 503).
  t.is((await put(`/volume/uploads/${newId()}`, { 'x-fileshare-size': '5', 'x-fileshare-sha256': sha256(Buffer.from('hello')) })).status, 400, 'no record fields');
  const missing = f.http.recordPlaced({ key: newId(), size: 5, sha256: sha256(Buffer.from('hello')) }, meta());
  t.is((await t.throwsAsync<AppError>(missing))?.status, 503);
  t.is((await put('/volume/append/not-an-id')).status, 400);
  t.is((await put(`/volume/append/${newId()}`)).status, 400, 'no append headers');
  t.is((await put(`/volume/appended/${newId()}`, { 'x-fileshare-offset': '0', 'x-fileshare-owner': 'YQ', 'x-fileshare-size': 'x' })).status, 400);
  t.is((await put('/volume/renew/not-an-id')).status, 400);
  t.is((await put('/volume/release/..')).status, 404);
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

/** A resumable upload of `length` bytes, created as the gateway's POST creates one. */
const newResumable = async (length: number) =>
  (await f.bus.request(COMMANDS.resumableCreate, { owner: 'alice', name: 'r.bin', contentType: 'application/octet-stream', ttl: 60, length })).id;

/** One chunk through `plane`: its bytes lent in small pieces, the upload's state once it is in. */
async function chunk(plane: SharedVolume, id: string, offset: number, bytes: Buffer, opts: Partial<AppendOptions> = {}) {
  const w = plane.appendUpload({ id, owner: 'alice', offset, maxBytes: 1 << 30, ...opts });
  await writeLent(w, bytes, 64 * 1024);
  return w.state;
}

test.serial('appends: a large or undeclared chunk is appended on the volume, a small one through storage; the upload completes intact from either', async (t) => {
  const plane = await writingVolume();
  try {
    const before = f.holdings();
    const up = randomBytes(3 * PLACE_FROM_BYTES + 4000);
    const cuts = [0, PLACE_FROM_BYTES + 5, PLACE_FROM_BYTES + 4005, up.length];
    const id = await newResumable(up.length);
    t.deepEqual(
      await written(async () => {
        t.is((await chunk(plane, id, cuts[0], up.subarray(cuts[0], cuts[1]))).offset, cuts[1]); // length unknown
        t.is((await chunk(plane, id, cuts[1], up.subarray(cuts[1], cuts[2]), { expectedBytes: 4000 })).offset, cuts[2]);
        const last = await chunk(plane, id, cuts[2], up.subarray(cuts[2]), { expectedBytes: up.length - cuts[2] });
        t.like(last, { offset: up.length, complete: true });
      }),
      { volume: 2, storage: 1 },
    );
    const rec = await f.bus.request(COMMANDS.uploadGet, { id });
    t.like(rec, { size: up.length, sha256: sha256(up) });
    t.true((await download(volume, rec.blob, up.length)).equals(up));
    // Sealed into a blob: no growing file, no resumable record, one upload with its expiry entry.
    t.deepEqual(tmpFiles(f.dir), []);
    t.deepEqual(f.holdings(), { blobs: before.blobs + 1, uploads: before.uploads + 1, scheduled: before.scheduled + 1 });

    // All chunks through one gateway: storage seals with the digest it carried, reading nothing back.
    const id1 = await newResumable(up.length);
    await chunk(plane, id1, 0, up.subarray(0, cuts[1]));
    t.like(await chunk(plane, id1, cuts[1], up.subarray(cuts[1])), { offset: up.length, complete: true });
    t.is((await f.bus.request(COMMANDS.uploadGet, { id: id1 })).sha256, sha256(up), 'the carried digest');

    // Carried across gateways: this one has no hash state for an upload another began.
    const other = await writingVolume();
    const id2 = await newResumable(up.length);
    await chunk(plane, id2, 0, up.subarray(0, cuts[1]));
    t.like(await chunk(other, id2, cuts[1], up.subarray(cuts[1])), { offset: up.length, complete: true });
    other.close();
    t.is((await f.bus.request(COMMANDS.uploadGet, { id: id2 })).sha256, sha256(up), 'storage read the bytes it was given no digest for');
  } finally {
    plane.close();
  }
});

test.serial(
  'appends: while a chunk is appended on the volume the upload is locked; a cut or mismatching chunk is handed nothing and the next append takes over at once',
  async (t) => {
    const plane = await writingVolume();
    try {
      const up = randomBytes(2 * PLACE_FROM_BYTES + 9);
      const id = await newResumable(up.length);
      const cut = plane.appendUpload({ id, owner: 'alice', offset: 0, maxBytes: up.length });
      cut.write(up.subarray(0, PLACE_FROM_BYTES));
      t.true(await eventually(() => tmpFiles(f.dir).some((n) => n.endsWith('.part'))), 'the gateway is appending');
      const second = plane.appendUpload({ id, owner: 'alice', offset: 0, maxBytes: up.length });
      second.end(up.subarray(0, 10));
      t.is((await t.throwsAsync<AppError>(second.state))?.code, 'upload_locked');
      const wrong = plane.appendUpload({ id, owner: 'alice', offset: 5, maxBytes: up.length });
      wrong.end(up.subarray(5, 10));
      t.is((await t.throwsAsync<AppError>(wrong.state))?.code, 'offset_mismatch', 'a wrong request hears why, not "locked"');
      cut.destroy(new AppError('incomplete_body'));
      await t.throwsAsync(cut.state);
      t.is((await f.bus.request(COMMANDS.resumableGet, { id, owner: 'alice' })).offset, 0, 'nothing of the cut chunk was handed in');

      // Its lock goes once its file is closed: the next chunk follows without waiting out a lease.
      const retried = async () => (await chunk(plane, id, 0, up.subarray(0, PLACE_FROM_BYTES + 3)).catch(() => undefined))?.offset === PLACE_FROM_BYTES + 3;
      t.true(await eventually(retried, 2000, 20));
      const digest = createHash('sha1').update(Buffer.from('not these bytes')).digest('base64');
      const bad = chunk(plane, id, PLACE_FROM_BYTES + 3, up.subarray(PLACE_FROM_BYTES + 3), { checksum: { algorithm: 'sha1', digest } });
      t.is((await t.throwsAsync<AppError>(bad))?.code, 'checksum_mismatch');
      t.is((await f.bus.request(COMMANDS.resumableGet, { id, owner: 'alice' })).offset, PLACE_FROM_BYTES + 3, 'a mismatch moves nothing');
      const good = createHash('sha1')
        .update(up.subarray(PLACE_FROM_BYTES + 3))
        .digest('base64');
      const after = async () =>
        (await chunk(plane, id, PLACE_FROM_BYTES + 3, up.subarray(PLACE_FROM_BYTES + 3), { checksum: { algorithm: 'sha1', digest: good } }).catch(() => undefined))?.complete ===
        true;
      t.true(await eventually(after, 2000, 20));
      const rec = await f.bus.request(COMMANDS.uploadGet, { id });
      t.is(rec.sha256, sha256(up));
      t.true((await download(volume, rec.blob, up.length)).equals(up), 'the cut and refused bytes were cut back');
      t.deepEqual(tmpFiles(f.dir), []);
    } finally {
      plane.close();
    }
  },
);

test.serial('appends: a gateway that dies holding the lock stops renewing it: it lapses, and the next append cuts back what that gateway wrote', async (t) => {
  const up = randomBytes(PLACE_FROM_BYTES + 77);
  const id = await newResumable(up.length);
  // The dead gateway: storage's go-ahead, bytes written, never handed in, never renewed.
  const placed = (await f.http.beginAppend({ id, owner: 'alice', offset: 0, maxBytes: up.length }))!;
  t.like(placed, { offset: 0, maxBytes: up.length });
  writeFileSync(join(f.dir, 'tmp', `${placed.appendKey}.part`), randomBytes(5000));
  const plane = await writingVolume();
  try {
    t.is((await t.throwsAsync<AppError>(chunk(plane, id, 0, up)))?.code, 'upload_locked');
    const started = Date.now();
    const resumed = async () => (await chunk(plane, id, 0, up).catch(() => undefined))?.complete === true;
    t.true(await eventually(resumed, placed.leaseMs + 5000, 250), 'writable again once the lease lapsed');
    t.true(Date.now() - started >= placed.leaseMs - 3000, 'not before');
    // A renewal or a hand-in by the dead gateway's lock now fails: it is not held.
    t.false(await f.http.renewAppend(id));
    const rec = await f.bus.request(COMMANDS.uploadGet, { id });
    t.is(rec.sha256, sha256(up));
    t.true((await download(volume, rec.blob, up.length)).equals(up));
  } finally {
    plane.close();
  }
});

test.serial('appends: a session file’s chunks (no growing blob) go through storage even when large; the file is made ready intact', async (t) => {
  const plane = await writingVolume();
  try {
    const bytes = randomBytes(2 * PLACE_FROM_BYTES + 1);
    const session = await f.bus.request(COMMANDS.sessionCreate, { owner: 'alice', ttl: 60 });
    const file = await f.bus.request(COMMANDS.fileCreate, { owner: 'alice', sessionId: session.id, name: 's.bin', contentType: 'application/octet-stream', size: bytes.length });
    const cut = PLACE_FROM_BYTES + 3;
    t.deepEqual(
      await written(async () => {
        await chunk(plane, file.id, 0, bytes.subarray(0, cut), { sessionId: session.id });
        t.like(await chunk(plane, file.id, cut, bytes.subarray(cut), { sessionId: session.id }), { offset: bytes.length, complete: true });
      }),
      { volume: 0, storage: 2 },
    );
    const ready = await f.bus.request(COMMANDS.fileGet, { owner: 'alice', sessionId: session.id, fileId: file.id });
    t.like(ready, { state: 'ready', size: bytes.length, sha256: sha256(bytes) });
    t.true((await download(volume, ready.blob!, bytes.length)).equals(bytes));
    t.false(await f.http.renewAppend(file.id), 'no lock left behind');
  } finally {
    plane.close();
  }
});

test.serial('appends: storage refuses malformed chunk requests and hands in no chunk the growing blob does not hold', async (t) => {
  const id = await newResumable(PLACE_FROM_BYTES);
  const o = { id, owner: 'alice', offset: 0, maxBytes: PLACE_FROM_BYTES };
  t.is((await t.throwsAsync<AppError>(f.http.beginAppend({ ...o, owner: 'mallory' })))?.code, 'upload_not_found');
  t.is((await t.throwsAsync<AppError>(f.http.beginAppend({ ...o, id: 'not-an-id' })))?.code, 'bad_request');
  const placed = (await f.http.beginAppend(o))!;
  // Nothing written, yet 1000 bytes claimed: refused, the offset stays.
  t.is((await t.throwsAsync<AppError>(f.http.endAppend(o, { size: 1000 })))?.code, 'unavailable');
  t.is((await f.bus.request(COMMANDS.resumableGet, { id, owner: 'alice' })).offset, 0);
  t.false(await f.http.renewAppend(id), 'the refused hand-in let the lock go');
  t.truthy(placed.appendKey);
  await f.http.releaseAppend(id);
});
