import { createHash, randomBytes } from 'node:crypto';
import test from 'ava';
import { request } from 'undici';
import type { Deployment } from '../helpers/deploy.js';
import { readyFile, sleep, token } from '../helpers/fixtures.js';
import { agent, checkEveryResponse, http } from '../helpers/http.js';
import { conformance } from '../helpers/openapi.js';

const SIZE = 20 * 1024 * 1024;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** GET `url` and read `n` bytes of the body, then hang up (a dropped connection, a link-preview bot). */
async function readThenHangUp(url: string, n: number, headers: Record<string, string> = {}): Promise<{ status: number; got: Buffer; etag: string }> {
  const r = await request(url, { dispatcher: agent, headers });
  const parts: Buffer[] = [];
  let got = 0;
  for await (const c of r.body) {
    parts.push(c as Buffer);
    got += (c as Buffer).length;
    if (got >= n) break; // leaving the loop destroys the body: the connection is cut
  }
  return { status: r.statusCode, got: Buffer.concat(parts), etag: String(r.headers.etag) };
}

/**
 * One-time links count a real delivery (docs/one-time-links.md): a token is spent when the whole
 * file reached one client — one complete response, or Range responses that together covered it.
 * Cut responses, HEAD, 304 and 416 do not spend it; cut ones cost an attempt (TOKEN env: 3).
 */
export function oneTimeLinkSuite(label: string, start: (env: Record<string, string>) => Promise<Deployment>): void {
  let d: Deployment;
  let A: string;
  let B: string;
  let content: Buffer;
  let file: { sid: string; fid: string };
  test.before(async () => {
    checkEveryResponse(conformance);
    d = await start({ FILESHARE_TOKENS_MAX_ATTEMPTS: '3' });
    A = d.gateways[0];
    B = d.gateways[d.gateways.length - 1];
    content = randomBytes(SIZE);
    file = await readyFile(A, d.user, content);
  });
  test.after.always(async () => d?.stop());
  const link = async (base = A) => {
    const t = await token(A, d.user, file.sid, file.fid);
    return `${base}/sessions/${file.sid}/files/${file.fid}/tokens/${t.json.id}`;
  };
  const on = (base: string, url: string) => base + new URL(url).pathname.replace(/^\/rtc\/fileshare/, '');

  test.serial(`${label}: a download cut at 1.5 MB resumes with Range + If-Range; the pieces spend the token`, async (t) => {
    const url = await link();
    const cut = await readThenHangUp(url, 1_500_000);
    t.is(cut.status, 200);
    const rest = await http(on(B, url), { headers: { range: `bytes=${cut.got.length}-`, 'if-range': cut.etag } });
    t.is(rest.status, 206);
    t.is(sha(Buffer.concat([cut.got, rest.body])), sha(content), 'the two pieces are the file');
    const after = await http(url);
    t.is(`${after.status} ${after.json?.message}`, '410 token already used');
  });

  test.serial(`${label}: a link-preview bot reading 64 KiB costs an attempt, not the file; HEAD, 304 and 416 cost nothing`, async (t) => {
    const url = await link();
    t.is((await readThenHangUp(url, 64 * 1024)).status, 200);
    t.is((await http(url, { method: 'HEAD' })).status, 200);
    const etag = (await http(url, { method: 'HEAD' })).headers.etag;
    t.is((await http(url, { headers: { 'if-none-match': etag } })).status, 304);
    t.is((await http(on(B, url), { headers: { range: `bytes=${SIZE + 10}-` } })).status, 416);
    // If-Range that does not match: the whole file, not the range.
    const whole = await http(on(B, url), { headers: { range: 'bytes=100-', 'if-range': '"other"' } });
    t.is(whole.status, 200);
    t.is(sha(whole.body), sha(content));
    t.is((await http(url)).status, 410);
  });

  test.serial(`${label}: after tokens.maxAttempts cut deliveries the link is refused`, async (t) => {
    const url = await link();
    for (let i = 0; i < 3; i++) t.is((await readThenHangUp(on(i % 2 ? B : A, url), 100_000)).status, 200, `attempt ${i + 1}`);
    await sleep(200); // the last cut reaches the tokens service
    const r = await http(url);
    t.is(`${r.status} ${r.json?.message}`, '410 token already used');
  });

  test.serial(`${label}: while one delivery is in flight a second is 409 token in use, on any gateway; the first completes`, async (t) => {
    const url = await link();
    const slow = await request(url, { dispatcher: agent });
    t.is(slow.statusCode, 200);
    // The first response is not read yet: its delivery holds the token.
    const second = await http(on(B, url));
    t.is(`${second.status} ${second.json?.message}`, '409 token in use');
    const body = Buffer.from(await slow.body.arrayBuffer());
    t.is(sha(body), sha(content));
    const third = await http(on(B, url));
    t.is(third.status, 410);
  });

  test.serial(`${label}: of 100 concurrent GETs on two gateways exactly one delivery completes; then every request is 410`, async (t) => {
    const small = await readyFile(A, d.user, 'race');
    const tk = await token(A, d.user, small.sid, small.fid);
    const path = `/sessions/${small.sid}/files/${small.fid}/tokens/${tk.json.id}`;
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => http(`${i % 2 ? B : A}${path}`)));
    t.is(results.filter((r) => r.status === 200).length, 1);
    t.true(results.every((r) => r.status === 200 || r.status === 409 || r.status === 410));
    for (const base of [A, B]) t.is((await http(`${base}${path}`)).status, 410);
  });

  test.serial(`${label}: the tokens service keeps ready files, yet deleting the file or its session takes its links at once`, async (t) => {
    // Each round: tokens issued and one downloaded (so every tokens replica has read the file),
    // then the owner deletes the file — or its whole session — and, right after the 204, the other
    // link and a new issue must not be answered from what was kept.
    for (let round = 0; round < 12; round++) {
      const f = await readyFile(A, d.user, `round ${round}`);
      const path = (id: string) => `/sessions/${f.sid}/files/${f.fid}/tokens/${id}`;
      const ids: string[] = [];
      for (let i = 0; i < 4; i++) ids.push((await token(i % 2 ? B : A, d.user, f.sid, f.fid)).json.id);
      t.is((await http(`${A}${path(ids[0])}`)).status, 200);
      t.is((await http(`${B}${path(ids[1])}`)).status, 200);
      const whole = round % 2 === 1;
      const gone = await http(`${B}/sessions/${f.sid}${whole ? '' : `/files/${f.fid}`}`, { method: 'DELETE', auth: d.user });
      t.is(gone.status, 204);
      const after = await Promise.all([http(`${A}${path(ids[2])}`), http(`${B}${path(ids[3])}`), token(A, d.user, f.sid, f.fid), token(B, d.user, f.sid, f.fid)]);
      t.deepEqual(
        after.map((r) => r.status),
        [404, 404, 404, 404],
        `round ${round} (${whole ? 'session' : 'file'} deleted)`,
      );
    }
  });
}
