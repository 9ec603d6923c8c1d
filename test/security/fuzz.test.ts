import test from 'ava';
import { startAllInOne, startDistributed, type Deployment } from '../helpers/deploy.js';
import { SUITE_ENV } from '../e2e/api.suite.js';
import { eventually, newSession } from '../helpers/fixtures.js';
import { basic, http, multipart, rawRequest } from '../helpers/http.js';
import { holdings } from '../helpers/leftovers.js';

/**
 * Bounded, reproducible fuzzing: valid multipart uploads, session/file JSON and headers,
 * mutated by a seeded PRNG. Every answer must be < 500, the process must keep serving, and
 * afterwards the backends must hold exactly what the 2xx answers created.
 * Longer runs on demand: FUZZ_COUNT=20000 FUZZ_SEED=7 npx ava test/security/fuzz.test.ts
 */
const COUNT = Number(process.env.FUZZ_COUNT ?? 250);
const SEED = Number(process.env.FUZZ_SEED ?? 1446);

function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NASTY = ['\r\n', '--', '"', '\\', '\u0000', '%', '../', '\uffff', 'é', ';', '=', ' ', '\t', '{', '}', '[', ']', 'null', '1e309', '-0', '9'.repeat(40)];

function mutate(buf: Buffer, rnd: () => number): Buffer {
  const b = Buffer.from(buf);
  // 0 to 3 mutations: about a quarter of the requests stay valid, so success paths run too.
  const ops = Math.floor(rnd() * 4);
  let out = b;
  for (let i = 0; i < ops; i++) {
    const at = Math.floor(rnd() * out.length);
    switch (Math.floor(rnd() * 4)) {
      case 0: // flip a byte
        out[at] = Math.floor(rnd() * 256);
        break;
      case 1: // truncate
        out = out.subarray(0, at);
        break;
      case 2: // insert something nasty
        out = Buffer.concat([out.subarray(0, at), Buffer.from(NASTY[Math.floor(rnd() * NASTY.length)]), out.subarray(at)]);
        break;
      default: // duplicate a slice
        out = Buffer.concat([out.subarray(0, at), out.subarray(Math.floor(rnd() * out.length)), out.subarray(at)]);
    }
  }
  return out;
}

function fuzzSuite(label: string, start: () => Promise<Deployment>) {
  test.serial(`${label}: ${COUNT} mutated requests (seed ${SEED}): no 5xx, no crash, no leftovers`, async (t) => {
    const d = await start();
    try {
      const rnd = prng(SEED);
      const base = d.gateways[0];
      const auth = basic(...d.user);
      const path = new URL(base).pathname;
      const sid = await newSession(base, d.user);
      const before = await holdings(d);
      let created = 0;
      let files = 0;
      const statuses = new Map<number, number>();
      // The requests are made from the seed first, then sent 100 at a time and each waited for up to
      // 15 s (longer than uWS's ~11 s idle timeout): an answer, or a connection the server closed,
      // is told apart from a hang (which fails), at the cost of one wait per batch, not per request.
      const requests = Array.from({ length: COUNT }, (_, i) => {
        const kind = Math.floor(rnd() * 4);
        if (kind === 0) {
          const mp = multipart(
            [
              { name: 'ttl', value: String(600 + Math.floor(rnd() * 100)) },
              { name: 'file', value: Buffer.from(`payload ${i}`), filename: `f${i}.txt`, type: 'text/plain' },
            ],
            'fuzzboundary',
          );
          const body = mutate(mp.body, rnd);
          const ct = rnd() < 0.8 ? mp.contentType : mutate(Buffer.from(mp.contentType), rnd).toString('latin1');
          return {
            i,
            kind,
            head: `POST ${path}/uploads HTTP/1.1\r\nHost: x\r\nAuthorization: ${auth}\r\nContent-Type: ${ct.replace(/[\r\n]/g, '')}\r\nContent-Length: ${body.length}\r\n\r\n`,
            body,
          };
        }
        if (kind === 1) {
          const body = mutate(Buffer.from(JSON.stringify({ ttl: 60 + i })), rnd);
          return {
            i,
            kind,
            head: `POST ${path}/sessions HTTP/1.1\r\nHost: x\r\nAuthorization: ${auth}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
            body,
          };
        }
        if (kind === 2) {
          const body = mutate(Buffer.from(JSON.stringify({ name: `n${i}.bin`, contentType: 'image/png', size: 10 })), rnd);
          return {
            i,
            kind,
            head: `POST ${path}/sessions/${sid}/files HTTP/1.1\r\nHost: x\r\nAuthorization: ${auth}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
            body,
          };
        }
        const head = mutate(Buffer.from(`GET ${path}/sessions HTTP/1.1\r\nHost: x\r\nAuthorization: ${auth}\r\nRange: bytes=0-1\r\n\r\n`), rnd);
        return { i, kind, head: head.toString('latin1'), body: undefined };
      });
      let dropped = 0;
      for (let b = 0; b < requests.length; b += 100) {
        const batch = requests.slice(b, b + 100);
        const answers = await Promise.all(batch.map((q) => rawRequest(base, q.head, q.body, 15_000)));
        batch.forEach((q, k) => {
          const { status, json, closed } = answers[k];
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
          if (status === 201 && q.kind === 0) created++;
          if (status === 201 && q.kind === 2) files++;
          t.true(status < 500, `request ${q.i} (kind ${q.kind}) answered ${status} ${JSON.stringify(json)}`);
          if (status >= 400) t.is(typeof json?.message, 'string', `request ${q.i}: JSON error`);
          if (status === 0) {
            dropped++;
            t.true(closed, `request ${q.i} (kind ${q.kind}): no answer within 15 s and the connection still open`);
          }
        });
      }
      // A connection closed without an answer is fine only when uWS refused the request before
      // our code ran. One our code took and never answered is cut by uWS's idle timeout just the
      // same, and looks alike from the client: the access line tells them apart (499 after a second
      // or more; uWS dropping a request it cannot frame right after our handler saw it takes ms).
      const abandoned = d
        .logs()
        .split('\n')
        .filter((l) => l.includes('"msg":"request"') && l.includes('"status":499') && Number(/"ms":([\d.]+)/.exec(l)?.[1]) >= 1000);
      t.deepEqual(abandoned, [], 'requests the server took and never answered');
      t.is((await http(`${d.roots[0]}/healthz`)).status, 200);
      t.true(
        await eventually(async () => {
          const now = await holdings(d);
          return now.blobs === before.blobs + created && now.uploads === before.uploads + created && now.files === before.files + files && now.guards === 0;
        }, 10_000),
        JSON.stringify({ before, after: await holdings(d), created, files }),
      );
      t.log(
        `${COUNT} requests, statuses ${JSON.stringify(Object.fromEntries([...statuses].sort()))} (0: ${dropped} closed by the server without an answer, none left hanging); ${created} uploads and ${files} file entries created, nothing else left`,
      );
    } finally {
      await d.stop();
    }
  });
}

fuzzSuite('all-in-one', () => startAllInOne(SUITE_ENV));
fuzzSuite('distributed', () => startDistributed({ gateways: 1, env: SUITE_ENV }));
