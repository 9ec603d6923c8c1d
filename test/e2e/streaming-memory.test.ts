import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import test from 'ava';
import { request } from 'undici';
import { startAllInOne, startDistributed, type Deployment } from '../helpers/deploy.js';
import { newSession } from '../helpers/fixtures.js';
import { agent, basic, http, multipart } from '../helpers/http.js';
import { watchRss } from '../helpers/rss.js';
import { bigStream } from '../helpers/stream.js';

const SIZE = 500 * 1024 * 1024;
const LIMIT = 64 * 1024 * 1024;
const MiB = 1024 * 1024;

/**
 * Upload 500 MB (multipart POST and raw PUT) and download it: no process may grow by more than
 * 64 MB over its RSS before the first upload, at any time during the test.
 */
function streamingSuite(label: string, start: () => Promise<Deployment>) {
  test.serial(`${label}: 500 MB up and down stays within 64 MB of RSS per process`, async (t) => {
    const d = await start();
    try {
      const pids = Object.fromEntries([...d.procs].map(([name, p]) => [name, p.child.pid!]));
      // One baseline for the whole test, taken before the first byte.
      const watch = watchRss(pids);
      const phase = async <T>(work: () => Promise<T>) => {
        const result = await work();
        return { result, rise: watch.phase() };
      };
      const base = d.gateways[0];
      const boundary = 'bigboundary1234567890';
      const big = bigStream(
        SIZE,
        Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`),
        Buffer.from(`\r\n--${boundary}--\r\n`),
      );
      const post = await phase(async () => {
        const r = await request(`${base}/uploads`, {
          method: 'POST',
          dispatcher: agent,
          headers: { authorization: basic(...d.user), 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': String(big.length) },
          body: big.stream,
        });
        return { status: r.statusCode, json: (await r.body.json()) as { id: string; sha256: string; size: number } };
      });
      t.is(post.result.status, 201);
      t.is(post.result.json.size, SIZE);
      t.is(post.result.json.sha256, big.sha256);

      const sid = await newSession(base, d.user);
      const f = await http(`${base}/sessions/${sid}/files`, {
        method: 'POST',
        auth: d.user,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'raw.bin', size: SIZE }),
      });
      const raw = bigStream(SIZE);
      const put = await phase(async () => {
        const r = await request(`${d.gateways.at(-1)}/sessions/${sid}/files/${f.json.id}`, {
          method: 'PUT',
          dispatcher: agent,
          headers: { authorization: basic(...d.user), 'content-length': String(SIZE) },
          body: raw.stream,
        });
        return { status: r.statusCode, json: (await r.body.json()) as { sha256: string } };
      });
      t.is(put.result.status, 200);
      t.is(put.result.json.sha256, raw.sha256);

      const get = await phase(async () => {
        const r = await request(`${base}/uploads/${post.result.json.id}`, { dispatcher: agent });
        const hash = createHash('sha256');
        let n = 0;
        for await (const c of r.body) {
          hash.update(c as Buffer);
          n += (c as Buffer).length;
        }
        return { status: r.statusCode, n, sha256: hash.digest('hex') };
      });
      t.is(get.result.status, 200);
      t.is(get.result.n, SIZE);
      t.is(get.result.sha256, big.sha256);

      watch.stop();
      for (const [name, m] of Object.entries({ 'multipart POST': post.rise, 'raw PUT': put.rise, download: get.rise })) {
        for (const [proc, rise] of Object.entries(m)) {
          t.log(`${name} ${proc}: +${(rise / MiB).toFixed(1)} MiB over the test's baseline`);
          t.true(rise <= LIMIT, `${name}: ${proc} grew ${(rise / MiB).toFixed(1)} MiB over the baseline`);
        }
      }
    } finally {
      await d.stop();
    }
  });
}

/**
 * The gateway parses multipart bodies in recycled buffers and gives each back once nothing can
 * hold a view of it. Concurrent uploads reuse each other's buffers at once, and fields before and
 * after the file are views of the same buffers as the file's first and last bytes: any buffer
 * given back too early shows up as a wrong sha256 or a field read wrong.
 */
function recyclingSuite(label: string, start: () => Promise<Deployment>) {
  test.serial(`${label}: concurrent multipart uploads with fields around the file: every file and field intact`, async (t) => {
    const d = await start();
    try {
      const base = d.gateways[0];
      for (let round = 0; round < 2; round++) {
        await Promise.all(
          Array.from({ length: 6 }, async (_, k) => {
            const boundary = `----recycling${round}${k}`;
            // The second round's files are full of what the delimiter begins with, and are sent in
            // pieces of odd sizes: the file part is cut where a delimiter could begin, across chunks.
            const data = round === 0 ? randomBytes(2 * MiB + k * 77_777) : nearMisses(2 * MiB + k * 77_777, boundary);
            const form = multipart(
              [
                { name: 'maxDownloads', value: String(k + 2) },
                { name: 'file', value: data, filename: `f${k}.bin`, type: 'application/x-test' },
                { name: 'ttl', value: String(3600 + round * 6 + k) },
              ],
              boundary,
            );
            const body = round === 0 ? form.body : Readable.from(oddPieces(form.body));
            const r = await http(`${base}/uploads`, { method: 'POST', auth: d.user, headers: { 'content-type': form.contentType }, body });
            t.is(r.status, 201, r.text);
            t.like(r.json, { size: data.length, sha256: createHash('sha256').update(data).digest('hex'), ttl: 3600 + round * 6 + k, maxDownloads: k + 2 });
            const got = await http(r.json.url);
            t.true(got.body.equals(data), `upload ${round}/${k}: the bytes served are the bytes sent`);
          }),
        );
      }
    } finally {
      await d.stop();
    }
  });
}

/** `size` bytes of random data in which fragments of `\r\n--boundary` (never all of it) keep coming. */
function nearMisses(size: number, boundary: string): Buffer {
  const delimiter = `\r\n--${boundary}`;
  const parts: Buffer[] = [];
  for (let n = 0; n < size;) {
    const piece = n % 3 === 0 ? Buffer.from(delimiter.slice(0, 1 + (n % (delimiter.length - 1))), 'latin1') : randomBytes(1 + (n % 4001));
    parts.push(piece);
    n += piece.length;
  }
  return Buffer.concat(parts).subarray(0, size);
}

/** A body sent in pieces of 1 byte to 200 kB, each its own write. */
async function* oddPieces(body: Buffer): AsyncGenerator<Buffer> {
  for (let at = 0, i = 0; at < body.length; i++) {
    const n = [1, 7, 50, 4096, 65_537, 200_000][i % 6];
    yield body.subarray(at, at + n);
    at += n;
    if (i % 6 === 0) await new Promise((r) => setImmediate(r));
  }
}

recyclingSuite('all-in-one', () => startAllInOne());
recyclingSuite('distributed', () => startDistributed({ gateways: 1 }));
streamingSuite('all-in-one', () => startAllInOne());
streamingSuite('distributed', () => startDistributed({ gateways: 1 }));
