import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import test from 'ava';
import * as tus from 'tus-js-client';
import type { Deployment } from '../helpers/deploy.js';
import { ALICE, eventually, sha256, sleep, storedBlobs } from '../helpers/fixtures.js';
import { checkEveryResponse, http, type Res } from '../helpers/http.js';
import { conformance } from '../helpers/openapi.js';
import { protocolTests } from './protocols.suite.js';

/**
 * Small limits so the whole class of size errors is quick to reach; incomplete uploads idle 15 s
 * expire (longer than a restart of every process of a distributed deployment takes here).
 */
export const TUS_ENV = { FILESHARE_LIMITS_MAX_FILE_SIZE: String(8 * 1024 * 1024), FILESHARE_MODELS_UPLOAD_INCOMPLETE_TTL: '15' };
const V = { 'tus-resumable': '1.0.0' };
const OCTETS = { ...V, 'content-type': 'application/offset+octet-stream' };
const b64 = (s: string) => Buffer.from(s).toString('base64');

/**
 * tus 1.0 against one deployment: tus-js-client (upload, abort and resume), then every protocol
 * rule and error by hand. Every response is checked against docs/openapi.json. Deployments have a
 * second user (alice) besides the fixed one.
 */
export function tusSuite(label: string, start: (env: Record<string, string>) => Promise<Deployment>): void {
  let d: Deployment;
  let A: string;
  let B: string;
  let U: [string, string];

  test.before(async () => {
    checkEveryResponse(conformance);
    d = await start(TUS_ENV);
    A = d.gateways[0];
    B = d.gateways[d.gateways.length - 1];
    U = d.user;
  });
  test.after.always(async () => d?.stop());

  const create = (base: string, headers: Record<string, string>, body?: Buffer) => http(`${base}/uploads`, { method: 'POST', auth: U, headers: { ...V, ...headers }, body });
  const head = (url: string, auth: [string, string] = U) => http(url, { method: 'HEAD', auth, headers: V });
  const patch = (url: string, offset: number, body: Buffer | NodeJS.ReadableStream, headers: Record<string, string> = {}) =>
    http(url, { method: 'PATCH', auth: U, headers: { ...OCTETS, 'upload-offset': String(offset), ...headers }, body });
  /** The same upload URL on another gateway. */
  const on = (base: string, url: string) => base + new URL(url).pathname.replace(/^\/rtc\/fileshare/, '');
  const client = (data: Buffer, opts: Partial<tus.UploadOptions>) =>
    new tus.Upload(data, {
      endpoint: `${A}/uploads`,
      // The deployments' self-signed certificate.
      httpStack: new tus.DefaultHttpStack({ rejectUnauthorized: false }),
      headers: { authorization: 'Basic ' + b64(U.join(':')) },
      metadata: { filename: 'résumé.bin', filetype: 'application/x-test', ttl: '120' },
      retryDelays: [],
      ...opts,
    });
  const run = (u: tus.Upload) =>
    new Promise<void>((resolve, reject) => {
      u.options.onSuccess = () => resolve();
      u.options.onError = reject;
      u.start();
    });

  test.serial(`${label}: tus-js-client uploads in chunks; the upload URL is the download link, bytes and sha256 intact`, async (t) => {
    const data = randomBytes(3 * 1024 * 1024 + 17);
    const u = client(data, { chunkSize: 1024 * 1024 });
    await run(u);
    const r = await http(on(B, u.url!));
    t.is(r.status, 200);
    t.is(sha256(r.body), sha256(data));
    t.regex(r.headers['content-disposition'], /filename\*=UTF-8''r%C3%A9sum%C3%A9\.bin/);
    t.is(r.headers['content-type'], 'application/x-test');
    const h = await head(u.url!);
    t.is(h.status, 204);
    t.is(h.headers['upload-offset'], String(data.length), 'complete: offset = length');
  });

  test.serial(`${label}: tus-js-client aborted mid-way resumes from the stored URL where the server's offset says`, async (t) => {
    const data = randomBytes(4 * 1024 * 1024 + 5);
    const chunk = 512 * 1024;
    const first = client(data, { chunkSize: chunk });
    await new Promise<void>((resolve, reject) => {
      first.options.onChunkComplete = (_size, accepted) => {
        if (accepted >= 3 * chunk) void first.abort().then(() => resolve());
      };
      first.options.onError = reject;
      first.start();
    });
    const url = first.url!;
    const offset = Number((await head(url)).headers['upload-offset']);
    t.true(offset >= 3 * chunk && offset < data.length, `offset after abort: ${offset}`);
    t.is((await http(url)).status, 409, 'an incomplete upload is not downloadable');
    let firstProgress = -1;
    const second = client(data, { chunkSize: chunk, uploadUrl: url, onProgress: (sent) => void (firstProgress < 0 && (firstProgress = sent)) });
    await run(second);
    t.true(firstProgress >= offset, `resumed at ${firstProgress}, not from 0`);
    t.is(sha256((await http(url)).body), sha256(data));
  });

  test.serial(`${label}: consecutive chunks through different gateways, a deferred length, then the download`, async (t) => {
    const data = randomBytes(700_000);
    const c = await create(A, { 'upload-defer-length': '1', 'upload-metadata': `filename ${b64('d.bin')}` });
    t.is(c.status, 201);
    t.like(c.json, { offset: 0, length: null, complete: false });
    const url = c.headers.location;
    t.is((await head(on(B, url))).headers['upload-defer-length'], '1');
    t.is((await patch(url, 0, data.subarray(0, 300_000))).headers['upload-offset'], '300000');
    const last = await patch(on(B, url), 300_000, data.subarray(300_000), { 'upload-length': String(data.length) });
    t.is(last.status, 204);
    t.is(last.headers['upload-offset'], String(data.length));
    t.false('upload-expires' in last.headers, 'complete: no incomplete expiry');
    t.is(sha256((await http(on(B, url))).body), sha256(data));
  });

  test.serial(`${label}: creation-with-upload, an empty upload, OPTIONS`, async (t) => {
    const data = randomBytes(5000);
    const c = await create(A, { 'upload-length': String(data.length + 10), 'content-type': 'application/offset+octet-stream' }, data);
    t.is(c.status, 201);
    t.is(c.headers['upload-offset'], '5000');
    t.is((await patch(c.headers.location, 5000, Buffer.alloc(10, 1))).status, 204);
    t.is((await http(c.headers.location)).body.length, 5010);
    const empty = await create(A, { 'upload-length': '0' });
    t.like(empty.json, { offset: 0, length: 0, complete: true });
    const got = await http(empty.headers.location);
    t.is(got.status, 200);
    t.is(got.body.length, 0);
    const o = await http(`${A}/uploads`, { method: 'OPTIONS' });
    t.is(o.status, 204);
    t.is(o.headers['tus-version'], '1.0.0');
    t.is(o.headers['tus-max-size'], TUS_ENV.FILESHARE_LIMITS_MAX_FILE_SIZE);
    t.deepEqual(o.headers['tus-extension'].split(',').sort(), [
      'checksum',
      'concatenation',
      'creation',
      'creation-defer-length',
      'creation-with-upload',
      'expiration',
      'termination',
    ]);
    t.is(o.headers['tus-checksum-algorithm'], 'sha1,sha256');
  });

  test.serial(`${label}: checksums: a matching chunk is kept, a mismatch (460) keeps nothing, an unknown algorithm is 400`, async (t) => {
    const digest = (alg: string, b: Buffer) => createHash(alg).update(b).digest('base64');
    const data = randomBytes(200_000);
    const before = storedBlobs(d).length;
    const c = await create(A, { 'upload-length': String(data.length) });
    const url = c.headers.location;
    const one = data.subarray(0, 120_000);
    const bad = await patch(url, 0, one, { 'upload-checksum': `sha256 ${digest('sha256', data.subarray(1, 120_001))}` });
    t.is(`${bad.status} ${bad.json?.code}`, '460 checksum_mismatch');
    t.is((await head(url)).headers['upload-offset'], '0', 'a mismatch moves nothing');
    t.is(`${(await patch(url, 0, one, { 'upload-checksum': `md5 ${digest('md5', one)}` })).json?.code}`, 'checksum_unsupported');
    t.is((await patch(url, 0, one, { 'upload-checksum': `sha1 ${digest('sha1', one)}` })).headers['upload-offset'], '120000');
    const rest = data.subarray(120_000);
    t.is((await patch(on(B, url), 120_000, rest, { 'upload-checksum': `sha256 ${digest('sha256', rest)}` })).status, 204);
    t.is(sha256((await http(url)).body), sha256(data));
    // creation-with-upload whose chunk does not match: no upload is left either.
    const cw = await create(
      A,
      { 'upload-length': '10', 'content-type': 'application/offset+octet-stream', 'upload-checksum': `sha1 ${digest('sha1', Buffer.from('other'))}` },
      Buffer.alloc(10),
    );
    t.is(cw.status, 460);
    await http(url, { method: 'DELETE', auth: U });
    t.true(await eventually(() => storedBlobs(d).length === before), 'nothing of the refused chunks is kept');
  });

  test.serial(`${label}: every refusal is the documented 4xx and moves nothing`, async (t) => {
    const code = (r: Res) => `${r.status} ${r.json?.code ?? ''}`;
    // Creation
    t.is(code(await create(A, {})), '400 invalid_upload_length');
    t.is(code(await create(A, { 'upload-length': '10', 'upload-defer-length': '1' })), '400 invalid_upload_length');
    t.is(code(await create(A, { 'upload-length': '-1' })), '400 invalid_upload_length');
    t.is(code(await create(A, { 'upload-length': String(8 * 1024 * 1024 + 1) })), '413 file_too_large');
    t.is(code(await create(A, { 'upload-length': '10', 'upload-metadata': 'filename not-base64!' })), '400 invalid_upload_metadata');
    t.is(code(await create(A, { 'upload-length': '10', 'upload-metadata': `filename ${b64('a')},filename ${b64('b')}` })), '400 invalid_upload_metadata');
    t.is(code(await create(A, { 'upload-length': '10', 'upload-metadata': `filetype ${b64('not a type')}` })), '400 invalid_upload_metadata');
    t.is(code(await create(A, { 'upload-length': '10', 'upload-metadata': `ttl ${b64('1e3')}` })), '400 invalid_ttl');
    const v = await create(A, { 'tus-resumable': '0.2.2', 'upload-length': '10' });
    t.is(code(v), '412 tus_version_unsupported');
    t.is(v.headers['tus-version'], '1.0.0');
    t.is((await http(`${A}/uploads`, { method: 'POST', headers: { ...V, 'upload-length': '10' } })).status, 401);

    const c = await create(A, { 'upload-length': '100' });
    const url = c.headers.location;
    t.is(c.headers['tus-resumable'], '1.0.0');
    t.truthy(c.headers['upload-expires']);
    t.is(code(await patch(url, 0, Buffer.alloc(10), { 'content-type': 'application/octet-stream' })), '415 offset_stream_required');
    t.is(code(await http(url, { method: 'PATCH', auth: U, headers: OCTETS, body: Buffer.alloc(10) })), '400 invalid_upload_offset');
    t.is(code(await patch(url, 5, Buffer.alloc(10))), '409 offset_mismatch');
    t.is(code(await patch(url, 0, Buffer.alloc(101))), '413 file_too_large');
    t.is(code(await patch(url, 0, Buffer.alloc(10), { 'upload-length': '50' })), '400 invalid_upload_length');
    t.is(code(await patch(url, 0, Buffer.alloc(10), { 'tus-resumable': '2.0.0' })), '412 tus_version_unsupported');
    t.is(
      code(await http(url, { method: 'PATCH', auth: ALICE, headers: { ...OCTETS, 'upload-offset': '0' }, body: Buffer.alloc(10) })),
      '404 upload_not_found',
      "someone else's upload",
    );
    t.is((await head(url, ALICE)).status, 404);
    t.is(code(await http(url)), '409 upload_incomplete');
    t.is((await head(url)).headers['upload-offset'], '0', 'no refusal moved the offset');
    t.is(code(await patch(`${A}/uploads/${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}`, 0, Buffer.alloc(1))), '404 upload_not_found');
    // Complete, then a late PATCH.
    t.is((await patch(url, 0, Buffer.alloc(100, 7))).status, 204);
    t.is(code(await patch(url, 0, Buffer.alloc(100, 7))), '409 offset_mismatch');
    t.is((await http(url)).body.length, 100);
  });

  test.serial(`${label}: one writer at a time: a second PATCH while one streams is 409, across gateways`, async (t) => {
    const c = await create(A, { 'upload-length': '200000' });
    const url = c.headers.location;
    // A body that trickles for about a second holds the upload's lock.
    const slow = Readable.from(
      (async function* () {
        for (let i = 0; i < 10; i++) {
          yield Buffer.alloc(10_000, i);
          await sleep(100);
        }
      })(),
    );
    const first = patch(url, 0, slow, { 'content-length': '100000' });
    await sleep(300);
    const second = await patch(on(B, url), 0, Buffer.alloc(100_000));
    t.is(`${second.status} ${second.json?.code}`, '409 upload_locked');
    t.is((await first).status, 204);
    t.is((await head(url)).headers['upload-offset'], '100000');
    t.is((await patch(on(B, url), 100_000, Buffer.alloc(100_000))).status, 204, 'free again once the first is done');
  });

  test.serial(`${label}: an acknowledged offset survives SIGKILL of every process (NATS and Redis too); the upload resumes there`, async (t) => {
    const data = randomBytes(900_000);
    const c = await create(A, { 'upload-length': String(data.length), 'upload-metadata': `filename ${b64('k.bin')}` });
    const url = c.headers.location;
    t.is((await patch(url, 0, data.subarray(0, 400_000))).status, 204);
    t.is((await patch(on(B, url), 400_000, data.subarray(400_000, 600_000))).status, 204);
    await d.crashAndRestart({ engines: true });
    const h = await head(on(B, url));
    t.is(`${h.status} ${h.headers['upload-offset']}`, '204 600000', 'every acknowledged byte is there');
    t.is((await patch(url, 600_000, data.subarray(600_000))).status, 204);
    t.is(sha256((await http(on(B, url))).body), sha256(data));
  });

  test.serial(`${label}: termination and expiry leave nothing behind`, async (t) => {
    const before = storedBlobs(d).length;
    const c = await create(A, { 'upload-length': '300000' });
    t.is((await patch(c.headers.location, 0, randomBytes(150_000))).status, 204);
    t.true(storedBlobs(d).length > before, 'the chunk is stored');
    t.is((await http(c.headers.location, { method: 'DELETE', auth: ALICE, headers: V })).status, 404, "someone else's incomplete upload");
    const del = await http(c.headers.location, { method: 'DELETE', auth: U, headers: V });
    t.is(del.status, 204);
    t.is(del.headers['tus-resumable'], '1.0.0');
    t.is((await head(c.headers.location)).status, 404);
    t.is(storedBlobs(d).length, before, 'terminated: its chunk is gone');

    const e = await create(A, { 'upload-length': '300000' });
    await sleep(1100);
    const progress = await patch(e.headers.location, 0, randomBytes(150_000));
    t.is(progress.status, 204);
    t.true(Date.parse(progress.headers['upload-expires']) > Date.parse(e.headers['upload-expires']), 'a chunk moves Upload-Expires');
    // An idle incomplete upload lives TUS_ENV's 15 s; expiry sweeps every second.
    t.true(await eventually(async () => (await head(e.headers.location)).status === 410, 30_000, 500), 'expired: 410');
    t.is((await patch(e.headers.location, 150_000, Buffer.alloc(10))).status, 410);
    t.true(await eventually(() => storedBlobs(d).length === before, 10_000), 'expired: its chunk is gone');
  });

  protocolTests(label, () => ({ d, A, B, U }));
}
