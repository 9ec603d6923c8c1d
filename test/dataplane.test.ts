/**
 * The HTTP data plane against a real storage service (its data-plane server on a real port):
 * the zero-copy download path (`sendBlob`, views of a reused socket buffer) under backpressure,
 * ranges, missing blobs, cancellation and connection reuse; uploads from lent (reused) buffers.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import test from 'ava';
import Database from 'better-sqlite3';
import { AppError, COMMANDS, HttpDataPlane, LocalBus, createLogger, loadConfig, newId, type BlobSink, type BlobTransfer, type UploadMeta, type UploadRecord } from '@fileshare/shared';
import { SqliteStore } from '@fileshare/shared/implementations';
import { startStorage, type RunningStorage } from '@fileshare/storage';
import { tempDir } from './helpers/tmp.js';
import { freePort } from './helpers/ports.js';
import { writeLent } from './helpers/stream.js';

const log = createLogger({ 'log.level': 'silent' }, 'test');
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const SECRET = 'data-plane-test-secret';

let storage: RunningStorage;
let plane: HttpDataPlane;
let bus: LocalBus;
let store: SqliteStore;
const data = randomBytes(3 * 1024 * 1024 + 123);
let key: string;
let dir: string;
let port: number;

/** What storage holds: blobs (inline rows and files), upload records, expiry entries. */
function holdings() {
  const count = (file: string, sql: string) => {
    const db = new Database(join(dir, file), { readonly: true });
    try {
      return (db.prepare(sql).get() as { n: number }).n;
    } finally {
      db.close();
    }
  };
  const files = readdirSync(join(dir, 'blobs'), { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).length;
  return {
    blobs: count('blobs.db', 'SELECT count(*) n FROM blobs') + files,
    uploads: count('db.sqlite', "SELECT count(*) n FROM kv WHERE key LIKE '%upload:%'"),
    scheduled: count('db.sqlite', 'SELECT count(*) n FROM schedule'),
  };
}

test.before(async () => {
  dir = tempDir('fs-dataplane-');
  port = await freePort();
  const cfg = loadConfig({ env: {}, overrides: { dataDir: dir, 'storage.port': port, 'internal.host': '127.0.0.1', 'internal.secret': SECRET } });
  bus = new LocalBus(log);
  store = new SqliteStore(join(dir, 'db.sqlite'));
  storage = await startStorage(cfg, { bus, store, log }, true);
  plane = new HttpDataPlane([`http://127.0.0.1:${port}`], SECRET);
  const w = plane.createBlob({ maxBytes: data.length });
  w.end(data);
  key = (await w.done).key;
});

test.after.always(async () => {
  plane?.close();
  await storage?.stop();
  await store?.close();
  await bus?.close();
});

/** A sink that collects what it gets; every `stallEvery`-th write is held and resumed later. */
function collector(stallEvery = 0, cancelAfter = Infinity) {
  const chunks: Buffer[] = [];
  let transfer!: BlobTransfer;
  let writes = 0;
  let bytes = 0;
  let settle!: (r: { bytes: Buffer; ended: boolean; failed?: Error }) => void;
  const result = new Promise<{ bytes: Buffer; ended: boolean; failed?: Error }>((resolve) => (settle = resolve));
  const sink: BlobSink = {
    start: (t) => void (transfer = t),
    write(view) {
      // The view is only ours until write returns (or until resume): copy it.
      chunks.push(Buffer.from(view));
      bytes += view.length;
      writes++;
      if (bytes >= cancelAfter) {
        transfer.cancel();
        settle({ bytes: Buffer.concat(chunks), ended: false });
        return false;
      }
      if (stallEvery && writes % stallEvery === 0) {
        setTimeout(() => transfer.resume(), 2);
        return false;
      }
      return true;
    },
    // The last view may be held: give its resume a moment before reading the result.
    end: () => setTimeout(() => settle({ bytes: Buffer.concat(chunks), ended: true }), 5),
    fail: (err) => settle({ bytes: Buffer.concat(chunks), ended: false, failed: err }),
  };
  return { sink, result };
}

test.serial('a whole blob arrives intact through held and resumed views', async (t) => {
  const { sink, result } = collector(3);
  await plane.sendBlob(key, { start: 0, end: data.length - 1 }, sink);
  const r = await result;
  t.true(r.ended);
  t.is(sha(r.bytes), sha(data));
});

test.serial('an upload whose chunks are refilled right after their write callbacks is stored intact', async (t) => {
  // The gateway lends its receive buffers to this writer: a callback must mean "the socket has it".
  const up = randomBytes(32 * 1024 * 1024 + 7);
  const w = plane.createBlob({ maxBytes: up.length });
  await writeLent(w, up, 8 * 1024, 16);
  const blob = await w.done;
  t.is(blob.sha256, sha(up));
  const { sink, result } = collector();
  await plane.sendBlob(blob.key, { start: 0, end: up.length - 1 }, sink);
  t.true((await result).bytes.equals(up));
});

test.serial('an upload carries its record: fields given after the last byte, one record, bytes intact', async (t) => {
  const bytes = randomBytes(10_000);
  let describe!: (m: UploadMeta) => void;
  const w = plane.createUpload({ maxBytes: bytes.length, meta: new Promise((resolve) => (describe = resolve)) });
  w.write(bytes.subarray(0, 1000));
  w.write(Buffer.alloc(0)); // nothing to send; must not end the chunked body
  w.end(bytes.subarray(1000));
  await new Promise((r) => setTimeout(r, 50)); // the writer waits for the fields
  describe({ owner: 'alice', name: 'naïve résumé.txt', contentType: 'text/plain', ttl: 60 });
  const rec = await w.record;
  t.like(rec, { owner: 'alice', name: 'naïve résumé.txt', contentType: 'text/plain', ttl: 60, size: bytes.length, sha256: sha(bytes) });
  t.deepEqual(await w.done, { key: rec.blob, size: bytes.length, sha256: sha(bytes) });
  t.deepEqual(await bus.request<UploadRecord>(COMMANDS.uploadGet, { id: rec.id }), rec);
  const { sink, result } = collector();
  await plane.sendBlob(rec.blob, { start: 0, end: bytes.length - 1 }, sink);
  t.true((await result).bytes.equals(bytes));
});

test.serial('an upload whose fields are refused, or that is too large, leaves nothing behind', async (t) => {
  const before = holdings();
  const refused = plane.createUpload({ maxBytes: 100_000, meta: Promise.reject(new AppError('invalid_ttl')) });
  refused.end(randomBytes(70_000)); // a file, not an inline row
  t.is(((await t.throwsAsync(refused.record)) as AppError).code, 'invalid_ttl');
  const tooLarge = plane.createUpload({ maxBytes: 1000, meta: Promise.resolve({ owner: 'a', name: 'n', contentType: 't', ttl: 5 }) });
  tooLarge.on('error', () => undefined);
  tooLarge.end(randomBytes(5000));
  t.is(((await t.throwsAsync(tooLarge.record)) as AppError).code, 'file_too_large');
  await storage.service.settled();
  t.deepEqual(holdings(), before);
});

test.serial("older gateways' two-step upload still works during a rolling upgrade: bytes, then the record or a discard", async (t) => {
  const before = holdings();
  const kept = plane.createBlob({ maxBytes: 100 });
  kept.end('kept');
  const blob = await kept.done;
  const rec = await bus.request<UploadRecord>(COMMANDS.uploadCreate, { owner: 'old', name: 'k.txt', contentType: 'text/plain', ttl: 60, blob });
  t.like(rec, { id: blob.key, owner: 'old', size: 4, sha256: sha(Buffer.from('kept')) });
  const dropped = plane.createBlob({ maxBytes: 100 });
  dropped.end('dropped');
  await bus.request(COMMANDS.blobDiscard, { key: (await dropped.done).key });
  t.deepEqual(holdings(), { blobs: before.blobs + 1, uploads: before.uploads + 1, scheduled: before.scheduled + 1 });
});

test.serial('PUT /uploads without its trailer is a 400 and keeps nothing', async (t) => {
  const before = holdings();
  const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request({ port, path: '/uploads', method: 'PUT', headers: { 'x-fileshare-internal': SECRET } }, (r) => {
      let body = '';
      r.on('data', (c) => (body += c));
      r.on('end', () => resolve({ status: r.statusCode!, body }));
    });
    req.on('error', reject);
    req.end('some bytes');
  });
  t.is(res.status, 400);
  t.is(JSON.parse(res.body).code, 'bad_request');
  await storage.service.settled();
  t.deepEqual(holdings(), before);
});

test.serial('ranges are exact, and connections are reused between transfers', async (t) => {
  const server = storage.server!;
  const count = () => new Promise<number>((res) => server.getConnections((_e, n) => res(n)));
  const before = await count();
  for (const [start, end] of [[0, 0], [5, 70_000], [data.length - 10, data.length - 1], [1_000_000, 2_999_999]]) {
    const { sink, result } = collector(2);
    await plane.sendBlob(key, { start, end }, sink);
    t.true((await result).bytes.equals(data.subarray(start, end + 1)), `bytes ${start}-${end}`);
    const w = plane.createUpload({ maxBytes: 10, meta: Promise.resolve({ owner: 'a', name: 'n', contentType: 't', ttl: 5 }) });
    w.end('0123456789');
    t.is((await w.record).size, 10);
  }
  t.true((await count()) <= before + 1, 'sequential downloads and uploads share one keep-alive connection');
});

test.serial('a missing blob rejects with not_found before anything starts', async (t) => {
  let started = false;
  const sink: BlobSink = { start: () => void (started = true), write: () => true, end: () => undefined, fail: () => undefined };
  const e = await t.throwsAsync(plane.sendBlob(newId(), { start: 0, end: 9 }, sink));
  t.is((e as AppError).code, 'not_found');
  t.false(started);
});

test.serial('a cancelled transfer drops its connection; the next transfer is intact', async (t) => {
  const first = collector(0, 300_000);
  await plane.sendBlob(key, { start: 0, end: data.length - 1 }, first.sink);
  const cut = await first.result;
  t.false(cut.ended);
  t.true(cut.bytes.equals(data.subarray(0, cut.bytes.length)));
  const second = collector(4);
  await plane.sendBlob(key, { start: 0, end: data.length - 1 }, second.sink);
  t.is(sha((await second.result).bytes), sha(data));
});

test.serial('a keep-alive connection the server closed is replaced without failing the transfer', async (t) => {
  const warm = collector();
  await plane.sendBlob(key, { start: 0, end: 99 }, warm.sink);
  await warm.result;
  storage.server!.closeIdleConnections();
  await new Promise((r) => setTimeout(r, 50));
  const { sink, result } = collector();
  await plane.sendBlob(key, { start: 100, end: 199 }, sink);
  t.true((await result).bytes.equals(data.subarray(100, 200)));
});
