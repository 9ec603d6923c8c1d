import { readFileSync } from 'node:fs';
import test from 'ava';
import { startAllInOne, type Deployment } from '../helpers/deploy.js';
import { http } from '../helpers/http.js';
import { RawConnection } from '../helpers/raw-conn.js';
import { rss } from '../helpers/rss.js';

// Requests that uWebSockets.js v20.30's own parser refuses before any of our code runs: it never
// answers them and drops the connection after its idle timeout (~10 s) or at once. We cannot
// answer them (docs/decisions.md, "What uWS refuses"); this pins that behaviour, measures that such
// connections cost the server nothing that matters, and fails if uWS starts answering them (then
// the answers must be checked).

/** What the connection gets: dropped without an answer, or our own 4xx (and then closed). */
type Outcome = 'dropped' | 414 | 431;
const CASES: { name: string; head: (p: string) => string; outcome: Outcome }[] = [
  { name: 'more than 50 headers', head: () => `GET /healthz HTTP/1.1\r\nHost: x\r\n${Array.from({ length: 60 }, (_, i) => `X-H${i}: v\r\n`).join('')}\r\n`, outcome: 'dropped' },
  { name: 'obs-fold', head: () => `GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: b\r\n c\r\n\r\n`, outcome: 'dropped' },
  { name: 'no Host', head: () => `GET /healthz HTTP/1.1\r\n\r\n`, outcome: 'dropped' },
  { name: 'HTTP/1.0 without Host', head: () => `GET /healthz HTTP/1.0\r\n\r\n`, outcome: 'dropped' },
  { name: 'absolute-form URI', head: () => `GET http://x/healthz HTTP/1.1\r\nHost: x\r\n\r\n`, outcome: 'dropped' },
  { name: 'space before the colon', head: () => `GET /healthz HTTP/1.1\r\nHost : x\r\n\r\n`, outcome: 'dropped' },
  // Around uWS's buffer size: answered by us (limits.maxHeaderBytes, limits.maxUrlLength) or cut by uWS.
  { name: '60 KB header', head: () => `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: ${'p'.repeat(60_000)}\r\n\r\n`, outcome: 431 },
  { name: '100 KB URL', head: () => `GET /healthz?${'q'.repeat(100_000)} HTTP/1.1\r\nHost: x\r\n\r\n`, outcome: 414 },
];
const PER_CASE = 25;

let d: Deployment;
test.before(async () => {
  d = await startAllInOne({ FILESHARE_HTTP_TLS_ENABLED: 'false' });
});
test.after.always(async () => d?.stop());

const cpuSeconds = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in clock ticks of 10 ms
};

test.serial(`${CASES.length} kinds of request uWS refuses, ${PER_CASE} connections each: dropped by the server, no answer, no cost`, async (t) => {
  const pid = d.procs.get('all')!.child.pid!;
  const rss0 = rss(pid);
  const cpu0 = cpuSeconds(pid);
  const started = Date.now();
  const conns = await Promise.all(
    CASES.flatMap((c) =>
      Array.from({ length: PER_CASE }, async () => {
        const conn = await RawConnection.open(d.roots[0]);
        conn.write(c.head(''));
        return { c, conn };
      }),
    ),
  );
  // Meanwhile the server serves everybody else as usual.
  const lat: number[] = [];
  for (let i = 0; i < 100; i++) {
    const t0 = performance.now();
    t.is((await http(`${d.roots[0]}/healthz`)).status, 200);
    lat.push(performance.now() - t0);
  }
  lat.sort((a, b) => a - b);
  const rssRise = rss(pid) - rss0;

  const results = await Promise.all(conns.map(async ({ c, conn }) => ({ c, closed: await conn.closedWithin(20_000), got: await conn.leftover(0), ms: Date.now() - started })));
  const cpu = cpuSeconds(pid) - cpu0;
  for (const c of CASES) {
    const mine = results.filter((r) => r.c === c);
    t.true(
      mine.every((r) => r.closed),
      `${c.name}: every connection dropped by the server within 20 s`,
    );
    const answers = mine.map((r) => Number(/^HTTP\/1\.1 (\d{3})/.exec(r.got)?.[1] ?? 0));
    if (c.outcome === 'dropped')
      t.true(
        answers.every((a) => a === 0),
        `${c.name}: uWS now answers (${JSON.stringify(mine[0].got.slice(0, 40))}): check that answer and update docs/decisions.md`,
      );
    // Ours (and closed) when uWS hands it over, which depends on how the bytes arrive; else uWS
    // closes at once. Either way the connection is gone.
    else
      t.true(
        answers.every((a) => a === c.outcome || a === 0),
        `${c.name}: ${answers.join(',')}`,
      );
    t.log(`${c.name}: dropped after ${Math.max(...mine.map((r) => r.ms))} ms at most`);
  }
  t.log(
    `${conns.length} refused connections: server CPU ${cpu.toFixed(2)} s over ${((Date.now() - started) / 1000).toFixed(1)} s, RSS +${(rssRise / 1048576).toFixed(1)} MiB, /healthz p99 ${lat[98].toFixed(1)} ms meanwhile`,
  );
  t.true(cpu < 1.5, `server CPU ${cpu.toFixed(2)} s`);
  t.true(rssRise < 32 * 1048576, `RSS rise ${(rssRise / 1048576).toFixed(1)} MiB`);
  t.true(lat[98] < 100, `/healthz p99 ${lat[98].toFixed(1)} ms while ${conns.length} refused connections idle`);
  for (const { conn } of conns) conn.destroy();
});
