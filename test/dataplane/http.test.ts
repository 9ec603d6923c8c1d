/**
 * What only the HTTP data plane has (the contract suite covers the rest, on both
 * implementations): the trailer of `PUT /uploads`, keep-alive connections reused and replaced.
 */
import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import test from 'ava';
import { collector, DATA_PLANE_SECRET, startStorageFixture, type StorageFixture } from '../helpers/storage-fixture.js';

let f: StorageFixture;
const data = randomBytes(1024 * 1024);
let key: string;

test.before(async () => {
  f = await startStorageFixture();
  const w = f.http.createBlob({ maxBytes: data.length });
  w.end(data);
  key = (await w.done).key;
});
test.after.always(async () => f?.close());

test.serial('PUT /uploads without its trailer is a 400 and keeps nothing', async (t) => {
  const before = f.holdings();
  const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request({ port: f.port, path: '/uploads', method: 'PUT', headers: { 'x-fileshare-internal': DATA_PLANE_SECRET } }, (r) => {
      let body = '';
      r.on('data', (c) => (body += c));
      r.on('end', () => resolve({ status: r.statusCode!, body }));
    });
    req.on('error', reject);
    req.end('some bytes');
  });
  t.is(res.status, 400);
  t.is((JSON.parse(res.body) as { code: string }).code, 'bad_request');
  await f.storage.dataPlane.settled();
  t.deepEqual(f.holdings(), before);
});

test.serial('sequential downloads and uploads share one keep-alive connection', async (t) => {
  const server = f.storage.server!;
  const count = () => new Promise<number>((res) => server.getConnections((_e, n) => res(n)));
  const before = await count();
  for (let i = 0; i < 4; i++) {
    const { sink, result } = collector(2);
    await f.http.sendBlob(key, { start: i * 1000, end: i * 1000 + 70_000 }, sink);
    t.true((await result).bytes.equals(data.subarray(i * 1000, i * 1000 + 70_001)));
    const w = f.http.createUpload({ maxBytes: 10, meta: Promise.resolve({ owner: 'a', name: 'n', contentType: 't', ttl: 5 }) });
    w.end('0123456789');
    t.is((await w.record).size, 10);
  }
  t.true((await count()) <= before + 1, 'one keep-alive connection');
});

test.serial('a keep-alive connection the server closed is replaced without failing the transfer', async (t) => {
  const warm = collector();
  await f.http.sendBlob(key, { start: 0, end: 99 }, warm.sink);
  await warm.result;
  f.storage.server!.closeIdleConnections();
  await new Promise((r) => setTimeout(r, 50));
  const { sink, result } = collector();
  await f.http.sendBlob(key, { start: 100, end: 199 }, sink);
  t.true((await result).bytes.equals(data.subarray(100, 200)));
});

/** A chunked `PUT /blobs` (or `path`) to storage with `trailers`, announced in a `Trailer` header when `announce`. */
function putBlob(body: Buffer, trailers: Record<string, string>, announce: string | undefined, path = '/blobs'): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { 'x-fileshare-internal': DATA_PLANE_SECRET, 'transfer-encoding': 'chunked', 'x-fileshare-max-bytes': '10000000' };
    if (announce) headers.trailer = announce;
    const req = request({ port: f.port, path, method: 'PUT', headers }, (r) => {
      let text = '';
      r.on('data', (c) => (text += c));
      r.on('end', () => resolve({ status: r.statusCode!, json: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.write(body.subarray(0, 1000));
    req.write(body.subarray(1000));
    req.addTrailers(trailers);
    req.end();
  });
}

test.serial('storage takes the sha256 the gateway sends as a trailer, and hashes the body itself when none is announced', async (t) => {
  const body = randomBytes(200_000); // a file, not a blobs.db row
  const real = createHash('sha256').update(body).digest('hex');
  // The gateway hashes what it sends: its digest is the record's (storage computes none).
  const given = createHash('sha256').update('what the gateway said').digest('hex');
  const trusted = await putBlob(body, { 'x-fileshare-sha256': given }, 'x-fileshare-sha256');
  t.is(trusted.status, 201);
  t.like(trusted.json, { size: body.length, sha256: given });
  const own = await putBlob(body, {}, undefined);
  t.is(own.status, 201);
  t.like(own.json, { size: body.length, sha256: real });
  // Through the gateway's client: the digest of exactly the bytes sent.
  const w = f.http.createBlob({ maxBytes: body.length });
  w.end(body);
  t.is((await w.done).sha256, real);
});

test.serial('an announced sha256 trailer that is missing or malformed is a 400 and keeps nothing', async (t) => {
  const body = randomBytes(200_000);
  const before = f.holdings();
  for (const trailers of [
    {} as Record<string, string>,
    { 'x-fileshare-sha256': 'abc' },
    { 'x-fileshare-sha256': 'A'.repeat(64) },
    { 'x-fileshare-sha256': `${'0'.repeat(64)} ` + '0' },
  ]) {
    const r = await putBlob(body, trailers, 'x-fileshare-sha256');
    t.is(r.status, 400, JSON.stringify(trailers));
    t.is(r.json.code, 'bad_request');
  }
  const small = await putBlob(Buffer.from('a small blob, a blobs.db row'), { 'x-fileshare-sha256': 'nope' }, 'x-fileshare-sha256');
  t.is(small.status, 400);
  // An upload with a valid record trailer but no usable digest: no blob, no record.
  const meta = Buffer.from(JSON.stringify({ owner: 'alice', name: 'a.bin', contentType: 'application/octet-stream', ttl: 60 })).toString('base64url');
  for (const digest of [undefined, 'f'.repeat(63)]) {
    const trailers: Record<string, string> = { 'x-fileshare-upload': meta, ...(digest ? { 'x-fileshare-sha256': digest } : {}) };
    const up = await putBlob(body, trailers, 'x-fileshare-upload, x-fileshare-sha256', '/uploads');
    t.is(up.status, 400, `PUT /uploads, digest ${digest}`);
    t.is(up.json.code, 'bad_request');
  }
  await f.storage.dataPlane.settled();
  t.deepEqual(f.holdings(), before);
});
