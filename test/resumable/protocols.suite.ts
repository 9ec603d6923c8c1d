import { randomBytes } from 'node:crypto';
import test from 'ava';
import * as tus from 'tus-js-client';
import type { Deployment } from '../helpers/deploy.js';
import { ALICE, eventually, sha256, storedBlobs } from '../helpers/fixtures.js';
import { http, type Res } from '../helpers/http.js';

/** What the tus suite's deployment gives these tests (set in its `before`). */
export interface ResumableEnv {
  d: Deployment;
  /** The first and the last gateway's API base. */
  A: string;
  B: string;
  U: [string, string];
}

const IETF = { 'upload-draft-interop-version': '6' };
const PARTIAL = { ...IETF, 'content-type': 'application/partial-upload' };
const TUS = { 'tus-resumable': '1.0.0' };
const b64 = (s: string) => Buffer.from(s).toString('base64');
/** tus-js-client 4.3 speaks the IETF draft (`protocol`), which its type declarations do not list yet. */
type ClientOptions = Partial<tus.UploadOptions> & { protocol?: 'tus-v1' | 'ietf-draft-05' };
const code = (r: Res) => `${r.status} ${r.json?.code ?? ''}`.trim();
/** The same URL on another gateway. */
const on = (base: string, url: string) => base + new URL(url).pathname.replace(/^\/rtc\/fileshare/, '');

/**
 * The IETF draft (interop version 6), tus concatenation, and session file URLs as upload URLs —
 * with tus-js-client where a real client exists for it, by hand for every rule and refusal.
 */
export function protocolTests(label: string, env: () => ResumableEnv): void {
  const upload = (data: Buffer, opts: ClientOptions) => {
    const { A, U } = env();
    const u = new tus.Upload(data, {
      endpoint: `${A}/uploads`,
      httpStack: new tus.DefaultHttpStack({ rejectUnauthorized: false }),
      headers: { authorization: 'Basic ' + b64(U.join(':')) },
      metadata: { filename: 'p.bin', filetype: 'application/x-test' },
      retryDelays: [],
      ...opts,
    });
    const done = new Promise<void>((resolve, reject) => {
      u.options.onSuccess = () => resolve();
      u.options.onError = reject;
    });
    return { u, done };
  };
  const run = async (data: Buffer, opts: ClientOptions) => {
    const { u, done } = upload(data, opts);
    u.start();
    await done;
    return u.url!;
  };
  const req = (url: string, method: string, headers: Record<string, string>, body?: Buffer) => http(url, { method, auth: env().U, headers, body });

  test.serial(`${label}: tus-js-client speaking ietf-draft-05 uploads in chunks, aborts, resumes from the stored URL`, async (t) => {
    const { B } = env();
    const data = randomBytes(3 * 1024 * 1024 + 99);
    const whole = await run(data, { protocol: 'ietf-draft-05', chunkSize: 1024 * 1024 });
    const got = await http(on(B, whole));
    t.is(got.status, 200);
    t.is(sha256(got.body), sha256(data));
    t.is(got.headers['content-type'], 'application/x-test');

    const chunk = 512 * 1024;
    const first = upload(data, { protocol: 'ietf-draft-05', chunkSize: chunk });
    await new Promise<void>((resolve, reject) => {
      first.u.options.onChunkComplete = (_size, accepted) => void (accepted >= 2 * chunk && first.u.abort().then(resolve, reject));
      first.done.catch(reject);
      first.u.start();
    });
    const url = first.u.url!;
    const h = await req(on(B, url), 'HEAD', IETF);
    t.is(`${h.status} ${h.headers['upload-complete']} ${h.headers['upload-length']}`, `204 ?0 ${data.length}`);
    const second = await run(data, { protocol: 'ietf-draft-05', chunkSize: chunk, uploadUrl: on(B, url) });
    t.is(second, on(B, url));
    t.is(sha256((await http(url)).body), sha256(data));
    t.is((await req(url, 'HEAD', IETF)).headers['upload-complete'], '?1');
  });

  test.serial(`${label}: IETF by hand: a whole upload in one POST, appends, and every refusal`, async (t) => {
    const { A, B } = env();
    const one = await req(`${A}/uploads`, 'POST', { ...IETF, 'upload-complete': '?1', 'content-type': 'text/csv' }, Buffer.from('a,b\n1,2\n'));
    t.is(`${one.status} ${one.headers['upload-complete']} ${one.headers['upload-offset']}`, '201 ?1 8');
    const got = await http(one.headers.location);
    t.is(`${got.body.toString()} ${got.headers['content-type']}`, 'a,b\n1,2\n text/csv');
    t.is(code(await req(`${A}/uploads`, 'POST', { ...IETF, 'upload-complete': '?1' })), '201', 'an empty upload');

    const c = await req(`${A}/uploads`, 'POST', { ...IETF, 'upload-complete': '?0', 'upload-length': '20' });
    t.is(`${c.status} ${c.headers['upload-complete']} ${c.headers['upload-offset']} ${c.headers['upload-draft-interop-version']}`, '201 ?0 0 6');
    const url = c.headers.location;
    t.is(code(await req(url, 'PATCH', { ...PARTIAL, 'upload-offset': '0' }, Buffer.alloc(5))), '400 invalid_upload_complete', 'upload-complete is required');
    t.is(code(await req(url, 'PATCH', { ...PARTIAL, 'upload-offset': '0', 'upload-complete': 'yes' }, Buffer.alloc(5))), '400 invalid_upload_complete');
    t.is(
      code(await req(url, 'PATCH', { ...IETF, 'upload-offset': '0', 'upload-complete': '?0', 'content-type': 'application/octet-stream' }, Buffer.alloc(5))),
      '415 partial_upload_required',
    );
    t.is(
      code(await req(url, 'PATCH', { ...PARTIAL, 'upload-draft-interop-version': '5', 'upload-offset': '0', 'upload-complete': '?0' }, Buffer.alloc(5))),
      '412 interop_version_unsupported',
    );
    t.is(code(await req(url, 'PATCH', { ...PARTIAL, 'upload-offset': '3', 'upload-complete': '?0' }, Buffer.alloc(5))), '409 offset_mismatch');
    t.is(
      code(await req(url, 'PATCH', { ...PARTIAL, 'upload-offset': '0', 'upload-complete': '?1' }, Buffer.alloc(5))),
      '400 invalid_upload_length',
      'complete before the declared length',
    );
    t.is((await req(url, 'HEAD', IETF)).headers['upload-offset'], '0', 'no refusal moved the offset');
    const p = await req(on(B, url), 'PATCH', { ...PARTIAL, 'upload-offset': '0', 'upload-complete': '?0' }, Buffer.alloc(12, 1));
    t.is(`${p.status} ${p.headers['upload-offset']} ${p.headers['upload-complete']}`, '204 12 ?0');
    const last = await req(url, 'PATCH', { ...PARTIAL, 'upload-offset': '12', 'upload-complete': '?1' }, Buffer.alloc(8, 2));
    t.is(`${last.status} ${last.headers['upload-offset']} ${last.headers['upload-complete']}`, '204 20 ?1');
    t.is((await http(url)).body.length, 20);

    const gone = await req(`${A}/uploads`, 'POST', { ...IETF, 'upload-complete': '?0' });
    t.false('upload-length' in gone.headers, 'length not known yet');
    const del = await req(gone.headers.location, 'DELETE', IETF);
    t.is(`${del.status} ${del.headers['upload-draft-interop-version']}`, '204 6');
    t.is((await req(gone.headers.location, 'HEAD', IETF)).status, 404);
    t.is(code(await req(`${A}/uploads`, 'POST', { ...IETF })), '400 invalid_upload_complete');
    t.is(code(await req(`${A}/uploads`, 'POST', { 'upload-draft-interop-version': '3', 'upload-complete': '?1' })), '412 interop_version_unsupported');
  });

  for (const protocol of ['tus-v1', 'ietf-draft-05'] as const) {
    test.serial(`${label}: tus-js-client parallelUploads: 4 (${protocol}): partial uploads concatenated, the parts leave nothing`, async (t) => {
      const { d, B } = env();
      const before = storedBlobs(d).length;
      const data = randomBytes(2 * 1024 * 1024 + 3);
      const url = await run(data, { protocol, parallelUploads: 4, chunkSize: 256 * 1024 });
      const got = await http(on(B, url));
      t.is(got.status, 200);
      t.is(sha256(got.body), sha256(data));
      t.is(got.headers['content-disposition']?.includes('p.bin'), true);
      t.true(await eventually(() => storedBlobs(d).length === before + 1), 'one blob: the parts and chunks are gone');
    });
  }

  test.serial(`${label}: concatenation by hand: HEAD of a part, and a final naming what it may not`, async (t) => {
    const { A, B } = env();
    const part = async (n: number, body?: Buffer) =>
      (await req(`${A}/uploads`, 'POST', { ...TUS, 'upload-concat': 'partial', 'upload-length': String(n), 'content-type': 'application/offset+octet-stream' }, body)).headers
        .location;
    const p1 = await part(3, Buffer.from('abc'));
    const p2 = await part(3, Buffer.from('def'));
    const h = await req(p1, 'HEAD', TUS);
    t.is(`${h.status} ${h.headers['upload-concat']} ${h.headers['upload-offset']}`, '204 partial 3');
    t.is(code(await http(p1)), '409 upload_incomplete', 'a part is never a download');
    const half = await part(4, Buffer.from('gh'));
    const plain = (await req(`${A}/uploads`, 'POST', { ...TUS, 'upload-length': '1', 'content-type': 'application/offset+octet-stream' }, Buffer.from('x'))).headers.location;
    const final = (parts: string[], auth = env().U) => http(`${B}/uploads`, { method: 'POST', auth, headers: { ...TUS, 'upload-concat': `final;${parts.join(' ')}` } });
    t.is(code(await final([p1, half])), '400 invalid_concat', 'an incomplete part');
    t.is(code(await final([p1, plain])), '400 invalid_concat', 'not a part');
    t.is(code(await final([p1, p1])), '400 invalid_concat', 'the same part twice');
    t.is(code(await final([p1, 'https://elsewhere/not-ours'])), '400 invalid_concat');
    t.is(code(await final([p1, p2], ALICE)), '400 invalid_concat', "someone else's parts");
    t.is(code(await req(`${A}/uploads`, 'POST', { ...TUS, 'upload-concat': 'sideways', 'upload-length': '1' })), '400 invalid_concat');
    // Relative URLs, as the spec's examples write them.
    const f = await final([new URL(p1).pathname, new URL(p2).pathname]);
    t.is(`${f.status} ${f.headers['upload-offset']} ${f.headers['upload-length']}`, '201 6 6');
    t.is((await http(f.headers.location)).body.toString(), 'abcdef');
    t.is(code(await req(p1, 'HEAD', TUS)), '404', 'the parts are gone');
    t.is(code(await final([p1, p2])), '400 invalid_concat', 'a part is used once');
    // The parts' total is bounded as one upload is (TUS_ENV: 8 MiB).
    const big = await Promise.all([part(5 * 1024 * 1024, Buffer.alloc(5 * 1024 * 1024)), part(5 * 1024 * 1024, Buffer.alloc(5 * 1024 * 1024))]);
    t.is(code(await final(big)), '413 file_too_large');
  });

  test.serial(`${label}: a session file's URL is its upload URL: tus-js-client, the IETF draft, refusals, tokens`, async (t) => {
    const { A, B, d } = env();
    const session = (await req(`${A}/sessions`, 'POST', { 'content-type': 'application/json' }, Buffer.from('{}'))).json.id as string;
    const entry = async (body: object) =>
      `${A}/sessions/${session}/files/${(await req(`${A}/sessions/${session}`.replace(/$/, '/files'), 'POST', { 'content-type': 'application/json' }, Buffer.from(JSON.stringify(body)))).json.id}`;
    const data = randomBytes(1024 * 1024 + 7);
    const declared = await entry({ name: 'f.bin', size: data.length });
    const h = await req(declared, 'HEAD', TUS);
    t.is(`${h.status} ${h.headers['upload-offset']} ${h.headers['upload-length']}`, `204 0 ${data.length}`);
    await run(data, { uploadUrl: on(B, declared), chunkSize: 300_000 });
    const f = await req(declared, 'GET', {});
    t.like(f.json, { state: 'ready', size: data.length, sha256: sha256(data) });
    t.is(
      code(await req(declared, 'PATCH', { ...TUS, 'content-type': 'application/offset+octet-stream', 'upload-offset': '0' }, Buffer.alloc(1))),
      '409 offset_mismatch',
      'ready already',
    );
    const token = await req(`${declared}/tokens`, 'POST', { 'content-type': 'application/json' }, Buffer.from('{}'));
    t.is(sha256((await http(token.json.url)).body), sha256(data), 'tokens work the same');

    // No declared size: the IETF client says where it ends.
    const open = await entry({ name: 'g.txt' });
    t.is(code(await req(open, 'PATCH', { ...PARTIAL, 'upload-offset': '0', 'upload-complete': '?0' }, Buffer.from('hello '))), '204');
    t.is(code(await req(on(B, open), 'PATCH', { ...PARTIAL, 'upload-offset': '6', 'upload-complete': '?1' }, Buffer.from('world'))), '204');
    t.like((await req(open, 'GET', {})).json, { state: 'ready', size: 11 });

    // Refusals, and an entry deleted mid-upload takes its chunks along.
    const blobs = storedBlobs(d).length;
    const other = await entry({ name: 'h.bin', size: 100 });
    const octets = { ...TUS, 'content-type': 'application/offset+octet-stream' };
    t.is(code(await req(other, 'PATCH', { ...octets, 'upload-offset': '0', 'upload-length': '99' }, Buffer.alloc(10))), '400 invalid_upload_length');
    t.is(code(await req(other, 'PATCH', { ...octets, 'upload-offset': '0' }, Buffer.alloc(101))), '413 file_too_large');
    t.is(code(await http(other, { method: 'PATCH', auth: ALICE, headers: { ...octets, 'upload-offset': '0' }, body: Buffer.alloc(10) })), '404 session_not_found');
    t.is(code(await req(other, 'PATCH', { ...octets, 'upload-offset': '0' }, Buffer.alloc(40))), '204');
    t.true(storedBlobs(d).length > blobs);
    t.is(code(await req(other, 'DELETE', TUS)), '204');
    t.is(code(await req(other, 'HEAD', TUS)), '404');
    t.true(await eventually(() => storedBlobs(d).length === blobs), 'the deleted entry left no chunk');
  });
}
