import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import test, { type ExecutionContext } from 'ava';
import type { Deployment } from '../helpers/deploy.js';
import { ALICE, eventually, newSession, readyFile, sha256, sleep, storedBlobs, token, upload } from '../helpers/fixtures.js';
import { basic, checkEveryResponse, http, multipart, rawRequest } from '../helpers/http.js';
import { checked, conformance } from '../helpers/openapi.js';

const run = promisify(execFile);
const json = { 'content-type': 'application/json' };
/** Small enough to test 413 quickly; every deployment in these suites runs with it. */
export const SUITE_ENV = { FILESHARE_LIMITS_MAX_FILE_SIZE: String(1024 * 1024) };

/**
 * Every endpoint and error case of API.md, over real HTTP, against one deployment.
 * Registered once per deployment shape (all-in-one, distributed, distributed + S3).
 */
export function apiSuite(label: string, start: () => Promise<Deployment>): void {
  let d: Deployment;
  let A: string; // first gateway
  let B: string; // last gateway (the same one in all-in-one)
  let U: [string, string];

  test.before(async () => {
    // Every response this suite sees must match the OpenAPI document: it cannot drift from the code.
    checkEveryResponse(conformance);
    d = await start();
    A = d.gateways[0];
    B = d.gateways[d.gateways.length - 1];
    U = d.user;
  });
  test.after.always(async () => {
    await d?.stop();
  });

  const t = (name: string, fn: (tt: ExecutionContext) => Promise<void>) => test(`${label}: ${name}`, fn);
  /** Tests that count stored blobs: ava runs serial tests first, alone, so counts are exact. */
  const serial = (name: string, fn: (tt: ExecutionContext) => Promise<void>) => test.serial(`${label}: ${name}`, fn);

  t("the handbook's curl upload works verbatim", async (tt) => {
    const file = join(tmpdir(), 'test.txt');
    writeFileSync(file, 'hello world\n');
    const url = A.replace('127.0.0.1', 'localhost') + '/uploads';
    const { stdout } = await run('curl', ['-i', '-X', 'POST', '--insecure', '--form', `file=@${file}`, '--user', 'foo:bar', url]);
    tt.regex(stdout, /^HTTP\/1\.1 201 Created/);
    const body = JSON.parse(stdout.slice(stdout.indexOf('\r\n\r\n') + 4));
    tt.is(body.name, 'test.txt');
    tt.is(body.size, 12);
    tt.is(body.contentType, 'text/plain');
    tt.is(body.sha256, sha256('hello world\n'));
    const dl = await run('curl', ['-s', '--insecure', body.url]);
    tt.is(dl.stdout, 'hello world\n');
  });

  t('POST /uploads answers 201 with the documented body and Location', async (tt) => {
    const r = await upload(A, U, 'abcdef', { name: 'a.txt' });
    tt.is(r.status, 201);
    tt.regex(r.json.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    tt.deepEqual(Object.keys(r.json).sort(), ['contentType', 'createdAt', 'downloads', 'expiresAt', 'id', 'maxDownloads', 'name', 'sha256', 'size', 'ttl', 'url']);
    tt.is(r.json.ttl, 3600);
    tt.is(Date.parse(r.json.expiresAt) - Date.parse(r.json.createdAt), 3600_000);
    tt.is(r.headers.location, r.json.url);
    tt.true(r.json.url.endsWith(`/rtc/fileshare/uploads/${r.json.id}`));
  });

  t('the ttl field may come before or after the file part', async (tt) => {
    for (const ttlFirst of [true, false]) {
      const r = await upload(A, U, 'x', { ttl: '120', ttlFirst });
      tt.is(r.status, 201);
      tt.is(r.json.ttl, 120);
      tt.is(Date.parse(r.json.expiresAt) - Date.parse(r.json.createdAt), 120_000);
    }
  });

  t('GET /uploads/:id serves the bytes with the download headers, repeatedly, from any gateway', async (tt) => {
    const content = Buffer.from('héllo "wörld"\n');
    const up = await upload(A, U, content, { name: 'ré"port\\x.txt' });
    for (const base of [A, B, A]) {
      const r = await http(`${base}/uploads/${up.json.id}`);
      tt.is(r.status, 200);
      tt.deepEqual(r.body, content);
      tt.is(r.headers['content-type'], 'text/plain');
      tt.is(r.headers['content-length'], String(content.length));
      tt.is(r.headers['accept-ranges'], 'bytes');
      tt.is(r.headers['x-content-type-options'], 'nosniff');
      tt.is(r.headers.etag, `"${sha256(content)}"`);
      tt.truthy(Date.parse(r.headers['last-modified']));
      tt.regex(r.headers['content-disposition'], /^attachment; filename="[\x20-\x7e]+"; filename\*=UTF-8''/);
      tt.false(/[^\x20-\x7e]/.test(r.headers['content-disposition']));
      tt.is(decodeURIComponent(r.headers['content-disposition'].split("UTF-8''")[1]), 'x.txt');
    }
  });

  t('HEAD /uploads/:id sends headers only', async (tt) => {
    const up = await upload(A, U, '0123456789');
    const r = await http(`${A}/uploads/${up.json.id}`, { method: 'HEAD' });
    tt.is(r.status, 200);
    tt.is(r.headers['content-length'], '10');
    tt.is(r.body.length, 0);
  });

  t('Range requests get 206 or 416', async (tt) => {
    const up = await upload(A, U, '0123456789');
    const get = (range: string) => http(`${B}/uploads/${up.json.id}`, { headers: { range } });
    const cases: [string, number, string?, string?][] = [
      ['bytes=2-5', 206, '2345', 'bytes 2-5/10'],
      ['bytes=7-', 206, '789', 'bytes 7-9/10'],
      ['bytes=-3', 206, '789', 'bytes 7-9/10'],
      ['bytes=8-100', 206, '89', 'bytes 8-9/10'],
      ['bytes=10-', 416, undefined, 'bytes */10'],
      ['bytes=0-1,4-5', 200, '0123456789'],
    ];
    for (const [range, status, body, cr] of cases) {
      const r = await get(range);
      tt.is(r.status, status, range);
      if (body !== undefined) tt.is(r.text, body, range);
      if (cr) tt.is(r.headers['content-range'], cr, range);
      if (status === 416) tt.is(r.json.message, 'range not satisfiable');
    }
  });

  t('unknown and malformed upload ids are 404 upload not found', async (tt) => {
    for (const id of ['4b0e6f3e-1d2c-4a4b-9c8d-7e6f5a4b3c2d', 'nope', '..%2F..%2Fetc%2Fpasswd', '4B0E6F3E-1D2C-4A4B-9C8D-7E6F5A4B3C2D']) {
      const r = await http(`${A}/uploads/${id}`);
      tt.is(r.status, 404, id);
      if (r.json?.code !== 'not_found') tt.is(r.json.message, 'upload not found', id);
    }
  });

  serial('upload errors are the documented 4xx and leave nothing behind', async (tt) => {
    const before = storedBlobs(d).length;
    const ok = multipart([{ name: 'file', value: 'x', filename: 'x.txt' }]);
    const cases: [string, () => Promise<import('../helpers/http.js').Res>, number, string][] = [
      ['no file part', () => post(multipart([{ name: 'ttl', value: '60' }])), 400, 'file is required'],
      ['ttl 0', () => upload(A, U, 'x', { ttl: '0' }), 400, 'invalid ttl'],
      ['ttl -1', () => upload(A, U, 'x', { ttl: '-1' }), 400, 'invalid ttl'],
      ['ttl 1.5', () => upload(A, U, 'x', { ttl: '1.5' }), 400, 'invalid ttl'],
      ['ttl abc', () => upload(A, U, 'x', { ttl: 'abc' }), 400, 'invalid ttl'],
      ['ttl 1e30', () => upload(A, U, 'x', { ttl: '1e30' }), 400, 'invalid ttl'],
      ['ttl over maxTtl', () => upload(A, U, 'x', { ttl: String(10 ** 9) }), 400, 'invalid ttl'],
      [
        'ttl twice',
        () =>
          post(
            multipart([
              { name: 'file', value: 'x', filename: 'x' },
              { name: 'ttl', value: '5' },
              { name: 'ttl', value: '6' },
            ]),
          ),
        400,
        'invalid ttl',
      ],
      ['not multipart', () => http(`${A}/uploads`, { method: 'POST', auth: U, headers: json, body: '{}' }), 415, 'multipart/form-data required'],
      ['no boundary', () => http(`${A}/uploads`, { method: 'POST', auth: U, headers: { 'content-type': 'multipart/form-data' }, body: ok.body }), 400, 'malformed multipart body'],
      [
        'truncated body',
        () => http(`${A}/uploads`, { method: 'POST', auth: U, headers: { 'content-type': ok.contentType }, body: ok.body.subarray(0, ok.body.length - 10) }),
        400,
        'malformed multipart body',
      ],
      [
        'two file parts',
        () =>
          post(
            multipart([
              { name: 'file', value: 'a', filename: 'a' },
              { name: 'file', value: 'b', filename: 'b' },
            ]),
          ),
        400,
        'exactly one file part is allowed',
      ],
      ['file too large (chunked, refused mid-stream)', () => chunkedUpload(Buffer.alloc(1024 * 1024 + 1)), 413, 'file too large'],
      ['no credentials', () => http(`${A}/uploads`, { method: 'POST', headers: { 'content-type': ok.contentType }, body: ok.body }), 401, 'authentication required'],
      ['wrong password', () => upload(A, [U[0], 'wrong'], 'x'), 401, 'invalid credentials'],
    ];
    for (const [name, send, status, message] of cases) {
      const r = await send();
      tt.is(r.status, status, name);
      tt.is(r.json?.message, message, name);
      tt.regex(r.headers['content-type'] ?? '', /^application\/json/, name);
    }
    // A Content-Length over the limit is refused before a byte of the body is read.
    const early = await rawRequest(
      `${A}/uploads`,
      `POST ${new URL(A).pathname}/uploads HTTP/1.1\r\nHost: x\r\nAuthorization: ${basic(...U)}\r\nContent-Type: ${ok.contentType}\r\nContent-Length: ${1024 * 1024 + 70 * 1024}\r\n\r\n`,
    );
    tt.is(early.status, 413);
    tt.is(early.json?.message, 'file too large');
    tt.true(await eventually(() => storedBlobs(d).length === before), 'no bytes left behind');
    const h = await http(d.roots[0] + '/healthz');
    tt.is(h.status, 200);

    /** The multipart body sent chunked (no Content-Length): the limit can only be enforced mid-stream. */
    async function chunkedUpload(content: Buffer) {
      const mp = multipart([{ name: 'file', value: content, filename: 'big' }]);
      const pieces: Buffer[] = [];
      for (let o = 0; o < mp.body.length; o += 64 * 1024) {
        const part = mp.body.subarray(o, o + 64 * 1024);
        pieces.push(Buffer.from(`${part.length.toString(16)}\r\n`), part, Buffer.from('\r\n'));
      }
      pieces.push(Buffer.from('0\r\n\r\n'));
      const r = await rawRequest(
        `${A}/uploads`,
        `POST ${new URL(A).pathname}/uploads HTTP/1.1\r\nHost: x\r\nAuthorization: ${basic(...U)}\r\nContent-Type: ${mp.contentType}\r\nTransfer-Encoding: chunked\r\n\r\n`,
        Buffer.concat(pieces),
      );
      return { status: r.status, json: r.json, headers: { 'content-type': /content-type: ([^\r]+)/i.exec(r.raw)?.[1] ?? '' } } as unknown as import('../helpers/http.js').Res;
    }

    function post(mp: { body: Buffer; contentType: string }) {
      return http(`${A}/uploads`, { method: 'POST', auth: U, headers: { 'content-type': mp.contentType }, body: mp.body });
    }
  });

  t('401 carries WWW-Authenticate; broken Authorization headers are 401, never 500', async (tt) => {
    const r = await http(`${A}/sessions`);
    tt.is(r.status, 401);
    tt.is(r.headers['www-authenticate']?.startsWith('Basic realm="fileshare"'), true);
    for (const authorization of [
      'foo',
      'Basic',
      'Basic !!!',
      'Basic ' + Buffer.from('nocolon').toString('base64'),
      'Bearer abc',
      'Basic ' + 'A'.repeat(6000),
      'Basic ' + Buffer.from([0xff, 0xfe, 0x3a, 0x41]).toString('base64'),
    ]) {
      const res = await http(`${A}/sessions`, { headers: { authorization } });
      tt.is(res.status, 401, authorization.slice(0, 20));
      tt.is(res.json.message, 'invalid credentials');
    }
  });

  t('DELETE /uploads/:id is the owner’s; then the upload is gone', async (tt) => {
    const up = await upload(A, U, 'bye');
    // Downloaded first on both gateways: each keeps the record (and the bytes) it must then forget.
    for (const g of [A, B]) tt.is((await http(`${g}/uploads/${up.json.id}`)).body.toString(), 'bye');
    tt.is((await http(`${A}/uploads/${up.json.id}`, { method: 'DELETE', auth: ALICE })).status, 404);
    tt.is((await http(`${A}/uploads/${up.json.id}`, { method: 'DELETE' })).status, 401);
    const del = await http(`${B}/uploads/${up.json.id}`, { method: 'DELETE', auth: U });
    tt.is(del.status, 204);
    tt.is(del.body.length, 0);
    const r = await http(`${A}/uploads/${up.json.id}`);
    tt.is(r.status, 404);
    tt.is(r.json.message, 'upload not found');
  });

  t('sessions: create, get, list, ownership, delete', async (tt) => {
    const c = await http(`${A}/sessions`, { method: 'POST', auth: U });
    tt.is(c.status, 201);
    tt.deepEqual(Object.keys(c.json).sort(), ['createdAt', 'expiresAt', 'id', 'ttl']);
    tt.is(c.json.ttl, 604800);
    tt.true(c.headers.location.endsWith(`/sessions/${c.json.id}`));
    const c2 = await http(`${A}/sessions`, { method: 'POST', auth: U, headers: json, body: JSON.stringify({ ttl: 60 }) });
    tt.is(c2.json.ttl, 60);
    const g = await http(`${B}/sessions/${c.json.id}`, { auth: U });
    tt.is(g.status, 200);
    tt.deepEqual(g.json, c.json);
    const other = await http(`${B}/sessions/${c.json.id}`, { auth: ALICE });
    tt.is(other.status, 404);
    tt.is(other.json.message, 'session not found');
    const mine = await http(`${A}/sessions`, { auth: U });
    tt.true(mine.json.some((s: { id: string }) => s.id === c.json.id));
    const hers = await http(`${A}/sessions`, { auth: ALICE });
    tt.false(hers.json.some((s: { id: string }) => s.id === c.json.id));
    tt.is((await http(`${A}/sessions/${c.json.id}`, { method: 'DELETE', auth: ALICE })).status, 404);
    tt.is((await http(`${A}/sessions/${c.json.id}`, { method: 'DELETE', auth: U })).status, 204);
    tt.is((await http(`${A}/sessions/${c.json.id}`, { auth: U })).status, 404);
    tt.false((await http(`${A}/sessions`, { auth: U })).json.some((s: { id: string }) => s.id === c.json.id));
  });

  t('session and file JSON errors', async (tt) => {
    const sid = await newSession(A, U);
    const cases: [string, string, Record<string, string>, string, number, string][] = [
      ['POST', '/sessions', json, '{"ttl":', 400, 'invalid json body'],
      ['POST', '/sessions', json, '[1]', 400, 'json body must be an object'],
      ['POST', '/sessions', { 'content-type': 'text/plain' }, '{"ttl":5}', 415, 'application/json required'],
      ['POST', '/sessions', json, '{"ttl":0}', 400, 'invalid ttl'],
      ['POST', '/sessions', json, '{"ttl":"60"}', 400, 'invalid ttl'],
      ['POST', '/sessions', json, '{"ttl":1.5}', 400, 'invalid ttl'],
      ['POST', '/sessions', json, JSON.stringify({ pad: 'x'.repeat(70_000) }), 413, 'request body too large'],
      ['POST', `/sessions/${sid}/files`, json, '{}', 400, 'name is required'],
      ['POST', `/sessions/${sid}/files`, json, '{"name":""}', 400, 'name is required'],
      ['POST', `/sessions/${sid}/files`, json, '{"name":"a","size":-1}', 400, 'invalid size'],
      ['POST', `/sessions/${sid}/files`, json, '{"name":"a","contentType":"text/html\\r\\nX: y"}', 400, 'invalid content type'],
      ['POST', `/sessions/4b0e6f3e-1d2c-4a4b-9c8d-7e6f5a4b3c2d/files`, json, '{"name":"a"}', 404, 'session not found'],
      ['POST', `/sessions/not-a-uuid/files`, json, '{"name":"a"}', 404, 'session not found'],
      ['GET', `/sessions/not-a-uuid`, {}, '', 404, 'session not found'],
      ['PATCH', `/sessions/${sid}`, {}, '', 405, 'method not allowed'],
      ['GET', `/nope`, {}, '', 404, 'not found'],
    ];
    for (const [method, path, headers, body, status, message] of cases) {
      const r = await http(A + path, { method, auth: U, headers, body: body || undefined });
      tt.is(r.status, status, `${method} ${path} ${body.slice(0, 30)}`);
      tt.is(r.json?.message, message, `${method} ${path} ${body.slice(0, 30)}`);
    }
    const r405 = await http(`${A}/sessions/${sid}`, { method: 'PATCH', auth: U });
    tt.is(r405.headers.allow, 'GET, HEAD, DELETE');
  });

  t('file entries: create, PUT raw and multipart, immutability, size mismatch, list, delete', async (tt) => {
    const sid = await newSession(A, U);
    const mk = (body: object) => http(`${A}/sessions/${sid}/files`, { method: 'POST', auth: U, headers: json, body: JSON.stringify(body) });
    const f = await mk({ name: 'photo.png', contentType: 'image/png', size: 5 });
    tt.is(f.status, 201);
    tt.like(f.json, { sessionId: sid, name: 'photo.png', contentType: 'image/png', size: 5, state: 'pending', sha256: null });
    const session = (await http(`${A}/sessions/${sid}`, { auth: U })).json;
    tt.is(f.json.expiresAt, session.expiresAt);
    tt.true(f.headers.location.endsWith(`/sessions/${sid}/files/${f.json.id}`));

    const mismatch = await http(`${B}/sessions/${sid}/files/${f.json.id}`, { method: 'PUT', auth: U, body: 'toolong' });
    tt.is(mismatch.status, 400);
    tt.is(mismatch.json.message, 'size mismatch');
    const put = await http(`${B}/sessions/${sid}/files/${f.json.id}`, { method: 'PUT', auth: U, headers: { 'content-type': 'image/png' }, body: 'PNG!!' });
    tt.is(put.status, 200);
    tt.like(put.json, { id: f.json.id, state: 'ready', size: 5, sha256: sha256('PNG!!') });
    const again = await http(`${A}/sessions/${sid}/files/${f.json.id}`, { method: 'PUT', auth: U, body: 'PNG!!' });
    tt.is(again.status, 409);
    tt.is(again.json.message, 'file already uploaded');

    const g = await mk({ name: 'doc.txt' });
    const mp = multipart([{ name: 'file', value: 'multipart bytes', filename: 'ignored.txt' }]);
    const putMp = await http(`${A}/sessions/${sid}/files/${g.json.id}`, { method: 'PUT', auth: U, headers: { 'content-type': mp.contentType }, body: mp.body });
    tt.is(putMp.status, 200);
    tt.like(putMp.json, { state: 'ready', size: 15, sha256: sha256('multipart bytes'), contentType: 'application/octet-stream' });
    // Fields named like what every object has are just fields, on this route's form too (small and streamed).
    const other = await newSession(A, U);
    for (const size of [10, 100_000]) {
      const h = await http(`${A}/sessions/${other}/files`, { method: 'POST', auth: U, headers: json, body: JSON.stringify({ name: `proto-${size}.bin` }) });
      const bytes = Buffer.alloc(size, 'p');
      const form = multipart([
        { name: 'constructor', value: '1' },
        { name: 'file', value: bytes, filename: 'p.bin' },
        { name: '__proto__', value: '2' },
      ]);
      const r = await http(`${A}/sessions/${other}/files/${h.json.id}`, { method: 'PUT', auth: U, headers: { 'content-type': form.contentType }, body: form.body });
      tt.is(r.status, 200, `${size} bytes`);
      tt.like(r.json, { state: 'ready', size, sha256: sha256(bytes) });
    }

    const list = await http(`${A}/sessions/${sid}/files`, { auth: U });
    tt.is(list.status, 200);
    tt.deepEqual(
      list.json.map((x: { id: string }) => x.id),
      [f.json.id, g.json.id],
    );
    tt.is((await http(`${A}/sessions/${sid}/files`, { auth: ALICE })).status, 404);
    tt.is((await http(`${A}/sessions/${sid}/files/${g.json.id}`, { method: 'PUT', auth: ALICE, body: 'x' })).status, 404);

    const unknown = await http(`${A}/sessions/${sid}/files/4b0e6f3e-1d2c-4a4b-9c8d-7e6f5a4b3c2d`, { method: 'PUT', auth: U, body: 'x' });
    tt.is(unknown.status, 404);
    tt.is(unknown.json.message, 'file not found');
    const big = await mk({ name: 'big' });
    const tooBig = await rawRequest(
      `${A}/sessions/${sid}/files/${big.json.id}`,
      `PUT ${new URL(A).pathname}/sessions/${sid}/files/${big.json.id} HTTP/1.1\r\nHost: x\r\nAuthorization: ${basic(...U)}\r\nContent-Length: ${1024 * 1024 + 1}\r\n\r\n`,
    );
    tt.is(tooBig.status, 413, 'refused before the body is sent');
    tt.is(tooBig.json?.message, 'file too large');

    tt.is((await http(`${A}/sessions/${sid}/files/${g.json.id}`, { method: 'DELETE', auth: U })).status, 204);
    tt.deepEqual(
      (await http(`${A}/sessions/${sid}/files`, { auth: U })).json.map((x: { id: string }) => x.id),
      [f.json.id, big.json.id],
    );
    tt.is((await http(`${A}/sessions/${sid}/files/${g.json.id}`, { method: 'DELETE', auth: U })).status, 404);
  });

  t('tokens: one-time download, HEAD does not consume, independent tokens, wrong ids', async (tt) => {
    const content = Buffer.from('one-time bytes');
    const { sid, fid } = await readyFile(A, U, content);
    const t1 = await token(A, U, sid, fid);
    tt.is(t1.status, 201);
    tt.deepEqual(Object.keys(t1.json).sort(), ['expiresAt', 'id', 'url']);
    tt.regex(t1.json.id, /^[A-Za-z0-9_-]{32}$/);
    tt.true(t1.json.url.endsWith(`/sessions/${sid}/files/${fid}/tokens/${t1.json.id}`));
    const t2 = await token(A, U, sid, fid, 60);
    tt.not(t2.json.id, t1.json.id);
    tt.true(Date.parse(t2.json.expiresAt) - Date.now() <= 60_000);

    const path = (tid: string, s = sid, f = fid) => `${B}/sessions/${s}/files/${f}/tokens/${tid}`;
    const head = await http(path(t1.json.id), { method: 'HEAD' });
    tt.is(head.status, 200);
    tt.is(head.headers['content-length'], String(content.length));
    const first = await http(path(t1.json.id));
    tt.is(first.status, 200);
    tt.deepEqual(first.body, content);
    tt.regex(first.headers['content-disposition'], /^attachment; filename="doc\.bin"/);
    const second = await http(path(t1.json.id));
    tt.is(second.status, 410);
    tt.is(second.json.message, 'token already used');
    tt.is((await http(path(t1.json.id), { method: 'HEAD' })).status, 410);
    tt.is((await http(path(t2.json.id))).status, 200, 'each token is independent');

    const other = await readyFile(A, U, 'other');
    const t3 = await token(A, U, other.sid, other.fid);
    for (const p of [path(t3.json.id), path('A'.repeat(32)), path('short'), path(t3.json.id, other.sid, fid)]) {
      const r = await http(p);
      tt.is(r.status, 404, p);
      tt.is(r.json.message, 'token not found');
    }
    const pending = await http(`${A}/sessions/${sid}/files`, { method: 'POST', auth: U, headers: json, body: '{"name":"p"}' });
    const notReady = await token(A, U, sid, pending.json.id);
    tt.is(notReady.status, 409);
    tt.is(notReady.json.message, 'file not uploaded yet');
    tt.is((await token(A, ALICE, sid, fid)).status, 404);
    tt.is((await token(A, U, sid, fid, 0)).status, 400);
  });

  t('of 100 concurrent downloads of one token, across gateways, exactly one gets the bytes', async (tt) => {
    const { sid, fid } = await readyFile(A, U, 'race');
    const tk = await token(A, U, sid, fid);
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => http(`${d.gateways[i % d.gateways.length]}/sessions/${sid}/files/${fid}/tokens/${tk.json.id}`)));
    const ok = results.filter((r) => r.status === 200);
    tt.is(ok.length, 1);
    tt.is(ok[0].text, 'race');
    // The others waited for the one delivery in flight (409 `token in use` if it outlasted their wait), then found it spent.
    tt.true(
      results
        .filter((r) => r.status !== 200)
        .every((r) => (r.status === 410 && r.json.message === 'token already used') || (r.status === 409 && r.json.message === 'token in use')),
    );
    tt.is((await http(`${B}/sessions/${sid}/files/${fid}/tokens/${tk.json.id}`)).status, 410, 'spent: every later request is 410');
  });

  t('expired token, expired session', async (tt) => {
    // A long session with a 1 s token, and a 5 s session with an unbounded token.
    const [a, b] = await Promise.all([readyFile(A, U, 'token ends', 600), readyFile(A, U, 'session ends', 5)]);
    const short = await token(A, U, a.sid, a.fid, 1);
    const sessionEnd = Date.parse((await http(`${A}/sessions/${b.sid}`, { auth: U })).json.expiresAt);
    const long = await token(A, U, b.sid, b.fid);
    tt.is(long.status, 201);
    tt.is(Date.parse(long.json.expiresAt), sessionEnd, 'a token never outlives its session');
    // Wait on the times the API reported, not on guesses.
    await sleep(Math.max(0, Date.parse(short.json.expiresAt) - Date.now()) + 50);
    const r = await http(`${A}/sessions/${a.sid}/files/${a.fid}/tokens/${short.json.id}`);
    tt.is(r.status, 410);
    tt.is(r.json.message, 'token expired');
    await sleep(Math.max(0, sessionEnd - Date.now()) + 50);
    const s = await http(`${A}/sessions/${b.sid}/files/${b.fid}/tokens/${long.json.id}`);
    tt.is(s.status, 410);
    tt.is(s.json.message, 'session expired');
    const g = await http(`${A}/sessions/${b.sid}`, { auth: U });
    tt.is(g.status, 410);
    tt.is(g.json.message, 'session expired');
  });

  serial('an expired upload answers 410 with the handbook log line, and its bytes are deleted by expiry', async (tt) => {
    const before = storedBlobs(d).length;
    const up = await upload(A, U, 'short lived', { ttl: '1' });
    tt.is(up.status, 201);
    tt.is(storedBlobs(d).length, before + 1);
    await sleep(1100);
    const r = await http(`${B}/uploads/${up.json.id}`);
    tt.is(r.status, 410);
    tt.deepEqual(r.json, { message: 'upload expired', code: 'upload_expired' });
    tt.true(await eventually(() => d.logs().includes(`Error at /uploads/${up.json.id}: message=upload expired, status=410`)));
    tt.true(await eventually(() => storedBlobs(d).length === before, 10_000), 'bytes deleted by the expiry service');
    const after = await http(`${A}/uploads/${up.json.id}`);
    tt.is(after.status, 410, 'tombstone keeps 410');
  });

  serial('deleting a session deletes its files’ bytes and its tokens', async (tt) => {
    const before = storedBlobs(d).length;
    const { sid, fid } = await readyFile(A, U, 'session bytes');
    const tk = await token(A, U, sid, fid);
    tt.is(storedBlobs(d).length, before + 1);
    tt.is((await http(`${B}/sessions/${sid}`, { method: 'DELETE', auth: U })).status, 204);
    tt.is(storedBlobs(d).length, before);
    tt.is((await http(`${A}/sessions/${sid}/files/${fid}/tokens/${tk.json.id}`)).status, 404);
  });

  t('the OpenAPI document is served, and responses were checked against it', async (tt) => {
    const r = await http(`${d.roots[0]}/openapi.json`);
    tt.is(r.status, 200);
    tt.is(r.json.openapi, '3.1.0');
    tt.true(checked > 20);
  });

  t('operational endpoints and logs', async (tt) => {
    for (const root of d.roots) {
      tt.is((await http(`${root}/healthz`)).status, 200);
      const ready = await http(`${root}/readyz`);
      tt.is(ready.status, 200);
      tt.is(ready.json.status, 'ready');
    }
    const logs = d.logs();
    tt.regex(logs, /"msg":"request"/);
    tt.false(logs.includes(Buffer.from('foo:bar').toString('base64')), 'no Authorization header in logs');
    tt.false(logs.includes(ALICE[1]), 'no password in logs');
  });
}
