/**
 * npm run bench [-- --quick]
 *
 * fileshare (all-in-one, and distributed on NATS + Redis) side by side with references measured
 * in the same run on the same machine with the same clients: nginx (sendfile GET, WebDAV PUT),
 * a minimal Node http server that fsyncs each PUT, and @tus/server + @tus/file-store.
 * Every target is a ratio against a reference from this run. Writes bench/results.json.
 */
import { execFileSync } from 'node:child_process';
import { createReadStream, mkdirSync, rmSync, writeFileSync, copyFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { ExpiryService } from '@fileshare/expiry';
import { FsBlobStore, StorageService } from '@fileshare/storage';
import { LocalBus, createLogger } from '@fileshare/shared';
import { RedisStore, SqliteStore } from '@fileshare/shared/implementations';
import { startAllInOne, startDistributed, type Deployment } from '../test/helpers/deploy.js';
import { startRedis } from '../test/helpers/engines.js';
import { agent, basic, http } from '../test/helpers/http.js';
import { freePort, waitForPort } from '../test/helpers/ports.js';
import { rss } from '../test/helpers/rss.js';
import { nginxConfig } from './references/nginx.js';
import { MB, curl, fmt, median, spawnLogged, wrk } from './lib.js';
import { seedRedis, seedSqlite } from './seed.js';

const quick = process.argv.includes('--quick');
const P = quick
  ? { large: 64 * MB, runs: 1, wrkSecs: 2, memN: 20, memSize: 5 * MB, small: 1_000, big: 50_000, sweepDue: 1_000, sweepLive: 50_000 }
  : { large: 900 * MB, runs: 3, wrkSecs: 10, memN: 100, memSize: 50 * MB, small: 1_000, big: 1_000_000, sweepDue: 10_000, sweepLive: 1_000_000 };
const HERE = fileURLToPath(new URL('.', import.meta.url));
const WORK = join(HERE, 'work');
const USER: [string, string] = ['foo', 'bar'];
const AUTH = basic(...USER);
const log = createLogger({ 'log.level': 'silent' }, 'bench');
const figures: Record<string, number | string> = {};
const targets: { name: string; value: number; reference: number; ratio: number; target: string }[] = [];
const say = (s: string) => process.stderr.write(s + '\n');

function need(tools: string[]): void {
  const missing = tools.filter((t) => {
    try {
      execFileSync('sh', ['-c', `command -v ${t} || test -x /usr/sbin/${t}`], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  });
  if (!missing.length) return;
  say(`bench: installing ${missing.join(', ')}`);
  try {
    execFileSync('sh', ['-c', `apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${missing.join(' ')}`], { stdio: 'inherit' });
  } catch {
    throw new Error(`bench: missing reference tools: ${missing.join(', ')} (install them: apt-get install ${missing.join(' ')})`);
  }
}

function makeFile(path: string, size: number): void {
  const block = randomBytes(1024 * 1024);
  const fd = openSync(path, 'w');
  for (let left = size; left > 0; left -= block.length) writeSync(fd, block, 0, Math.min(block.length, left));
  closeSync(fd);
}

/** One target row: `target` is ">=x" (higher is better) or "<=x" (lower is better). */
function target(name: string, value: number, reference: number, target: string): void {
  const ratio = reference ? value / reference : NaN;
  targets.push({ name, value: round(value), reference: round(reference), ratio: round(ratio, 3), target });
}
const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;

/** wrk run P.runs times: median req/s and median p99 (a single 10 s p99 on 2 cores is noise). */
async function wrkMedian(url: string, opts: Parameters<typeof wrk>[1]): Promise<{ rps: number; p99: number; errors: number }> {
  const runs: Awaited<ReturnType<typeof wrk>>[] = [];
  for (let i = 0; i < P.runs; i++) runs.push(checked(url, await wrk(url, opts)));
  return { rps: median(runs.map((r) => r.rps)), p99: median(runs.map((r) => r.p99)), errors: runs.reduce((n, r) => n + r.errors, 0) };
}

/** A load run that had errors (non-2xx answers, socket errors) measured something else: stop. */
function checked<T extends { errors: number }>(what: string, r: T): T {
  if (r.errors > 0) throw new Error(`bench: ${what}: ${r.errors} errors (non-2xx or socket errors); its figures would be meaningless`);
  return r;
}

/** A curl transfer that must have answered one of `ok`: references are checked like fileshare. */
function expect<T extends { status: number; body: string }>(what: string, r: T, ok: number[]): T {
  if (!ok.includes(r.status)) throw new Error(`bench: ${what} answered ${r.status}: ${r.body.slice(0, 200)}`);
  return r;
}
const met = (t: (typeof targets)[number]) => (t.target.startsWith('>=') ? t.ratio >= Number(t.target.slice(2)) : t.ratio <= Number(t.target.slice(2)));

/** Peak RSS (MB) of each process while `work` runs. */
async function peakRss<T>(d: Deployment, work: () => Promise<T>): Promise<{ result: T; peak: Record<string, number> }> {
  const peak: Record<string, number> = {};
  const sample = () => {
    for (const [name, p] of d.procs) if (p.child.pid && p.running) peak[name] = Math.max(peak[name] ?? 0, rss(p.child.pid) / MB);
  };
  const timer = setInterval(sample, 20);
  try {
    const result = await work();
    sample();
    return { result, peak };
  } finally {
    clearInterval(timer);
  }
}

interface System {
  name: string;
  d: Deployment;
  base: string;
}

async function main() {
  need(['curl', 'wrk', 'nginx']);
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(WORK, { recursive: true });
  const big = join(WORK, 'big.bin');
  const small = join(WORK, 'small.bin');
  const mid = join(WORK, 'mid.bin');
  makeFile(big, P.large);
  makeFile(small, 4096);
  makeFile(mid, P.memSize);
  say(`bench: ${quick ? 'QUICK (indicative)' : 'full'} run, large file ${P.large / MB} MB, ${P.runs} run(s) each, median reported`);

  // ---- references
  const ngxPort = await freePort();
  const ngxDir = join(WORK, 'nginx');
  const nginx = spawnLogged('nginx', ['-c', nginxConfig(ngxDir, ngxPort), '-p', ngxDir, '-g', 'daemon off;']);
  const nodePort = await freePort();
  const nodeRef = spawnLogged(process.execPath, ['--import', 'tsx', join(HERE, 'references/node-server.ts'), String(nodePort), join(WORK, 'node-ref')]);
  const tusPort = await freePort();
  let tus = spawnLogged(process.execPath, ['--import', 'tsx', join(HERE, 'references/tus-server.ts'), String(tusPort), join(WORK, 'tus')]);
  // @tus/server 2.x on Node 20 was seen to crash after a GET: restart it between workloads.
  const restartTus = async () => {
    // Wait for the old one to be gone: otherwise the new one cannot bind and the port check
    // would be answered by the dying process.
    if (tus.exitCode === null && tus.signalCode === null) {
      const gone = new Promise((r) => tus.once('exit', r));
      tus.kill('SIGKILL');
      await gone;
    }
    tus = spawnLogged(process.execPath, ['--import', 'tsx', join(HERE, 'references/tus-server.ts'), String(tusPort), join(WORK, 'tus')]);
    await waitForPort(tusPort);
  };
  await Promise.all([waitForPort(ngxPort), waitForPort(nodePort), waitForPort(tusPort)]);
  const ngx = `http://127.0.0.1:${ngxPort}`;
  const nref = `http://127.0.0.1:${nodePort}`;
  const tusUrl = `http://127.0.0.1:${tusPort}/files`;

  // ---- fileshare, plain HTTP like the references (TLS would cost every system the same)
  const env = { FILESHARE_HTTP_TLS_ENABLED: 'false', FILESHARE_EXPIRY_INTERVAL: '60', FILESHARE_AUTH_CACHE_TTL: '600', FILESHARE_LIMITS_MAX_UPLOADS_PER_USER: '256' };
  const aio = await startAllInOne(env);
  const dist = await startDistributed({ gateways: 1, env });
  const systems: System[] = [
    { name: 'all-in-one', d: aio, base: aio.gateways[0] },
    { name: 'distributed', d: dist, base: dist.gateways[0] },
  ];
  const cleanups = [() => aio.stop(), () => dist.stop(), () => nginx.kill(), () => nodeRef.kill(), () => tus.kill()];

  try {
    // ================= 1. large upload, 6. RSS during it
    const mbps = (r: { seconds: number }) => P.large / MB / r.seconds;
    const bigIds: Record<string, string> = {};
    for (const s of systems) {
      const post: number[] = [];
      const put: number[] = [];
      const peaks: number[] = [];
      for (let i = 0; i < P.runs; i++) {
        const { result: r, peak } = await peakRss(s.d, () => curl(['-u', USER.join(':'), '--form', `file=@${big}`, `${s.base}/uploads`]));
        if (r.status !== 201) throw new Error(`${s.name} POST: ${r.status} ${r.body}`);
        post.push(mbps(r));
        peaks.push(Math.max(...Object.values(peak)));
        const id = JSON.parse(r.body).id;
        if (i === 0) bigIds[s.name] = id;
        else await http(`${s.base}/uploads/${id}`, { method: 'DELETE', auth: USER });
        const sid = (await http(`${s.base}/sessions`, { method: 'POST', auth: USER })).json.id;
        const fid = (await http(`${s.base}/sessions/${sid}/files`, { method: 'POST', auth: USER, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'big.bin', size: P.large }) })).json.id;
        const p = await curl(['-u', USER.join(':'), '-T', big, `${s.base}/sessions/${sid}/files/${fid}`]);
        if (p.status !== 200) throw new Error(`${s.name} PUT: ${p.status} ${p.body}`);
        put.push(mbps(p));
        await http(`${s.base}/sessions/${sid}`, { method: 'DELETE', auth: USER });
      }
      figures[`1 upload multipart POST MB/s ${s.name}`] = round(median(post));
      figures[`1 upload raw PUT MB/s ${s.name}`] = round(median(put));
      figures[`6 peak RSS MB during large upload ${s.name}`] = round(Math.max(...peaks));
      say(`1 ${s.name}: POST ${fmt(median(post))} MB/s, PUT ${fmt(median(put))} MB/s, peak RSS ${fmt(Math.max(...peaks))} MB`);
    }
    const ref = { node: [] as number[], nginx: [] as number[], tus: [] as number[] };
    for (let i = 0; i < P.runs; i++) {
      const n = expect('node PUT+fsync', await curl(['-T', big, `${nref}/big-${i}`]), [201]);
      ref.node.push(mbps(n));
      if (i > 0) await curl(['-X', 'DELETE', `${nref}/big-${i}`]);
      const g = expect('nginx WebDAV PUT', await curl(['-T', big, `${ngx}/dav/big-${i}`]), [201, 204]);
      ref.nginx.push(mbps(g));
      const created = await curl(['-X', 'POST', '-H', 'Tus-Resumable: 1.0.0', '-H', `Upload-Length: ${P.large}`, '-D', '-', '-o', '/dev/null', tusUrl]);
      const loc = /location: (\S+)/i.exec(created.body)?.[1];
      if (created.status !== 201 || !loc) throw new Error(`bench: @tus/server POST answered ${created.status}`);
      const tusLoc = loc.startsWith('http') ? loc : `http://127.0.0.1:${tusPort}${loc}`;
      const tp = expect('@tus/server PATCH', await curl(['-X', 'PATCH', '-T', big, '-H', 'Tus-Resumable: 1.0.0', '-H', 'Upload-Offset: 0', '-H', 'Content-Type: application/offset+octet-stream', tusLoc]), [204]);
      ref.tus.push(mbps(tp));
      if (i === 0) figures.tusLocation = tusLoc;
    }
    figures['1 upload PUT+fsync MB/s node'] = round(median(ref.node));
    figures['1 upload WebDAV PUT MB/s nginx (no fsync, context)'] = round(median(ref.nginx));
    figures['1 upload PATCH MB/s @tus/server'] = round(median(ref.tus));
    say(`1 refs: node PUT+fsync ${fmt(median(ref.node))}, nginx DAV ${fmt(median(ref.nginx))}, tus PATCH ${fmt(median(ref.tus))} MB/s`);
    await restartTus();

    // ================= 2. large download
    copyFileSync(big, join(ngxDir, 'www/big.bin'));
    const dl = async (url: string, before?: () => Promise<void>) => {
      const xs: number[] = [];
      for (let i = 0; i < P.runs; i++) {
        await before?.();
        const r = await curl(['-o', '/dev/null', url]);
        if (r.status !== 200) throw new Error(`GET ${url}: ${r.status}`);
        xs.push(P.large / MB / r.seconds);
      }
      return median(xs);
    };
    for (const s of systems) figures[`2 download MB/s ${s.name}`] = round(await dl(`${s.base}/uploads/${bigIds[s.name]}`));
    figures['2 download MB/s nginx sendfile'] = round(await dl(`${ngx}/big.bin`));
    figures['2 download MB/s node'] = round(await dl(`${nref}/big-0`));
    // A fresh @tus/server for every GET: it crashes after serving one on Node 20.
    figures['2 download MB/s @tus/server'] = round(await dl(String(figures.tusLocation), restartTus));
    await restartTus();
    say(`2 download: ${systems.map((s) => `${s.name} ${figures[`2 download MB/s ${s.name}`]}`).join(', ')}, nginx ${figures['2 download MB/s nginx sendfile']}, node ${figures['2 download MB/s node']}, tus ${figures['2 download MB/s @tus/server']} MB/s`);
    for (const s of systems) await http(`${s.base}/uploads/${bigIds[s.name]}`, { method: 'DELETE', auth: USER });
    rmSync(join(ngxDir, 'www/big.bin'));
    await curl(['-X', 'DELETE', `${nref}/big-0`]);

    // ================= S3 backend (s3rver) beside fs: large upload and download, distributed
    {
      const s3 = await startDistributed({ gateways: 1, blob: 's3', env });
      try {
        const base = s3.gateways[0];
        const up: number[] = [];
        const down: number[] = [];
        for (let i = 0; i < P.runs; i++) {
          const r = await curl(['-u', USER.join(':'), '--form', `file=@${big}`, `${base}/uploads`]);
          if (r.status !== 201) throw new Error(`s3 POST: ${r.status} ${r.body}`);
          up.push(mbps(r));
          const id = JSON.parse(r.body).id;
          const g = await curl(['-o', '/dev/null', `${base}/uploads/${id}`]);
          down.push(P.large / MB / g.seconds);
          await http(`${base}/uploads/${id}`, { method: 'DELETE', auth: USER });
        }
        figures['S3 (s3rver) upload multipart POST MB/s distributed'] = round(median(up));
        figures['S3 (s3rver) download MB/s distributed'] = round(median(down));
        say(`S3 (s3rver): POST ${fmt(median(up))} MB/s, GET ${fmt(median(down))} MB/s (fs, same run: POST ${figures['1 upload multipart POST MB/s distributed']}, GET ${figures['2 download MB/s distributed']})`);
      } finally {
        await s3.stop();
      }
    }

    // ================= 3. small downloads (4 KiB, 64 connections)
    copyFileSync(small, join(ngxDir, 'www/small.bin'));
    expect('node PUT small', await curl(['-T', small, `${nref}/small`]), [201]);
    const smallIds: Record<string, string> = {};
    for (const s of systems) {
      const r = await curl(['-u', USER.join(':'), '--form', `file=@${small}`, `${s.base}/uploads`]);
      smallIds[s.name] = JSON.parse(r.body).id;
      const w = await wrkMedian(`${s.base}/uploads/${smallIds[s.name]}`, { connections: 64, seconds: P.wrkSecs });
      figures[`3 small GET req/s ${s.name}`] = round(w.rps);
      figures[`3 small GET p99 ms ${s.name}`] = round(w.p99, 3);
      figures[`3 small GET errors ${s.name}`] = w.errors;
    }
    const wn = await wrkMedian(`${ngx}/small.bin`, { connections: 64, seconds: P.wrkSecs });
    const wnode = await wrkMedian(`${nref}/small`, { connections: 64, seconds: P.wrkSecs });
    figures['3 small GET req/s nginx'] = round(wn.rps);
    figures['3 small GET p99 ms nginx'] = round(wn.p99, 3);
    figures['3 small GET req/s node'] = round(wnode.rps);
    say(`3 small GET: ${systems.map((s) => `${s.name} ${figures[`3 small GET req/s ${s.name}`]}`).join(', ')}, nginx ${wn.rps}, node ${wnode.rps} req/s`);

    // ================= 4. small uploads (4 KiB multipart with Basic auth, 64 connections)
    const boundary = 'benchboundary7MA4YWxkTrZu0gW';
    const bodyStr = `--${boundary}\\r\\nContent-Disposition: form-data; name=\\"file\\"; filename=\\"s.bin\\"\\r\\nContent-Type: application/octet-stream\\r\\n\\r\\n${'x'.repeat(4096)}\\r\\n--${boundary}--\\r\\n`;
    const postLua = join(WORK, 'post.lua');
    writeFileSync(postLua, `wrk.method = "POST"\nwrk.body = "${bodyStr}"\nwrk.headers["Content-Type"] = "multipart/form-data; boundary=${boundary}"\nwrk.headers["Authorization"] = "${AUTH}"\n`);
    // Each PUT creates a new file, as each fileshare upload does: names are (second, wrk thread,
    // counter), never reused across the repeated runs. (PUTs that all overwrite one path measure something
    // else: rewriting an existing inode costs the kernel far less than creating one; that figure
    // is kept for context.)
    const putLua = join(WORK, 'put.lua');
    const putSameLua = join(WORK, 'put-same.lua');
    writeFileSync(
      putLua,
      `wrk.method = "PUT"\nwrk.body = string.rep("x", 4096)\nlocal threads = 0\nfunction setup(thread) threads = threads + 1; thread:set("tid", threads) end\nlocal n = 0\nfunction request() n = n + 1; return wrk.format(nil, "/small-up-" .. os.time() .. "-" .. tid .. "-" .. n) end\n`,
    );
    writeFileSync(putSameLua, `wrk.method = "PUT"\nwrk.body = string.rep("x", 4096)\n`);
    for (const s of systems) {
      const w = await wrkMedian(`${s.base}/uploads`, { connections: 64, seconds: P.wrkSecs, script: postLua });
      figures[`4 small POST req/s ${s.name}`] = round(w.rps);
      figures[`4 small POST p99 ms ${s.name}`] = round(w.p99, 3);
      figures[`4 small POST errors ${s.name}`] = w.errors;
    }
    const wput = await wrkMedian(`${nref}/small-up`, { connections: 64, seconds: P.wrkSecs, script: putLua });
    figures['4 small PUT+fsync req/s node'] = round(wput.rps);
    figures['4 small PUT p99 ms node'] = round(wput.p99, 3);
    const wsame = checked('node PUT, one path', await wrk(`${nref}/small-same`, { connections: 64, seconds: P.wrkSecs, script: putSameLua }));
    figures['4 small PUT+fsync one path overwritten req/s node (context)'] = round(wsame.rps);
    say(`4 small uploads: ${systems.map((s) => `${s.name} ${figures[`4 small POST req/s ${s.name}`]} (errors ${figures[`4 small POST errors ${s.name}`]})`).join(', ')}, node ${wput.rps} req/s (one path overwritten: ${wsame.rps})`);

    // ================= 5. token round trip (create + one-time download), 32 in flight; median of runs
    for (const s of systems) {
      const sid = (await http(`${s.base}/sessions`, { method: 'POST', auth: USER })).json.id;
      const fid = (await http(`${s.base}/sessions/${sid}/files`, { method: 'POST', auth: USER, headers: { 'content-type': 'application/json' }, body: '{"name":"t.bin"}' })).json.id;
      await http(`${s.base}/sessions/${sid}/files/${fid}`, { method: 'PUT', auth: USER, body: randomBytes(4096) });
      const runs: { ops: number; p99: number }[] = [];
      for (let run = 0; run < P.runs; run++) {
        const lat: number[] = [];
        const until = Date.now() + P.wrkSecs * 1000;
        let failed = 0;
        await Promise.all(
          Array.from({ length: 32 }, async () => {
            while (Date.now() < until) {
              const t0 = performance.now();
              const tk = await http(`${s.base}/sessions/${sid}/files/${fid}/tokens`, { method: 'POST', auth: USER });
              const r = await http(tk.json.url.replace(/^https?:\/\/[^/]+/, s.base.replace(/\/rtc\/fileshare$/, '')));
              if (tk.status !== 201 || r.status !== 200) failed++;
              lat.push(performance.now() - t0);
            }
          }),
        );
        checked(`${s.name} token round trip`, { errors: failed });
        lat.sort((a, b) => a - b);
        runs.push({ ops: lat.length / P.wrkSecs, p99: lat[Math.floor(lat.length * 0.99)] });
      }
      figures[`5 token round trip ops/s ${s.name}`] = round(median(runs.map((r) => r.ops)));
      figures[`5 token round trip p99 ms ${s.name}`] = round(median(runs.map((r) => r.p99)), 3);
      say(`5 tokens ${s.name}: ${fmt(median(runs.map((r) => r.ops)))} ops/s, p99 ${fmt(median(runs.map((r) => r.p99)), 2)} ms (median of ${P.runs})`);
    }

    // ================= 6. RSS during N concurrent uploads of memSize; median of runs
    for (const s of systems) {
      const peaks: number[] = [];
      let last: Record<string, number> = {};
      for (let run = 0; run < P.runs; run++) {
        const { peak } = await peakRss(s.d, () =>
          Promise.all(
            Array.from({ length: P.memN }, async () => {
              const sid = (await http(`${s.base}/sessions`, { method: 'POST', auth: USER })).json.id;
              const fid = (await http(`${s.base}/sessions/${sid}/files`, { method: 'POST', auth: USER, headers: { 'content-type': 'application/json' }, body: '{"name":"m.bin"}' })).json.id;
              const r = await request(`${s.base}/sessions/${sid}/files/${fid}`, { method: 'PUT', dispatcher: agent, headers: { authorization: AUTH, 'content-length': String(P.memSize) }, body: createReadStream(mid) });
              await r.body.dump();
              if (r.statusCode !== 200) throw new Error(`${s.name} concurrent PUT ${r.statusCode}`);
              await http(`${s.base}/sessions/${sid}`, { method: 'DELETE', auth: USER });
            }),
          ),
        );
        peaks.push(Math.max(...Object.values(peak)));
        last = peak;
      }
      figures[`6 peak RSS MB ${P.memN}x${P.memSize / MB}MB ${s.name}`] = round(median(peaks));
      say(`6 ${s.name}: ${P.memN} concurrent ${P.memSize / MB} MB uploads, peak RSS per process (last run) ${JSON.stringify(Object.fromEntries(Object.entries(last).map(([k, v]) => [k, round(v)])))}, median of ${P.runs} peaks ${fmt(median(peaks))} MB`);
    }
  } finally {
    for (const c of cleanups) await c();
  }

  // ================= 7. growth: small-download p99 at 1k and at 1M records, on a clean store, random keys
  // Fresh deployments: nothing left by the workloads above. Every seeded record points at one real
  // 4 KiB blob, so each is downloadable; wrk asks for a random sample of them, not one hot key.
  for (const name of ['all-in-one', 'distributed'] as const) {
    const d = name === 'all-in-one' ? await startAllInOne(env) : await startDistributed({ gateways: 1, env });
    try {
      const base = d.gateways[0];
      const up = JSON.parse(expect(`${name} small upload`, await curl(['-u', USER.join(':'), '--form', `file=@${small}`, `${base}/uploads`]), [201]).body) as { id: string; size: number; sha256: string };
      const blob = { key: up.id, size: up.size, sha256: up.sha256 };
      const seed = (n: number) => (name === 'all-in-one' ? seedSqlite(join(d.dataDir, 'fileshare.db'), n, () => Date.now() + 86_400_000, blob) : seedRedis(d.engines.redis!.url, n, () => Date.now() + 86_400_000, blob));
      const ids: string[] = [];
      const measure = async () => {
        // 2,000 ids drawn from everything seeded so far, asked for in random order.
        const sample = Array.from({ length: 2000 }, () => ids[Math.floor(Math.random() * ids.length)]);
        const lua = join(WORK, `random-get-${name}.lua`);
        const path = new URL(base).pathname;
        writeFileSync(lua, `local ids = {${sample.map((i) => `"${i}"`).join(',')}}\nfunction request() return wrk.format("GET", "${path}/uploads/" .. ids[math.random(#ids)]) end\n`);
        await wrk(`${base}/uploads/${up.id}`, { connections: 64, seconds: 2, script: lua }); // same warm-up before each measurement
        return wrkMedian(`${base}/uploads/${up.id}`, { connections: 64, seconds: P.wrkSecs, script: lua });
      };
      const add = (more: string[]) => {
        for (const id of more) ids.push(id); // not push(...more): a million arguments overflow the stack
      };
      add(await seed(P.small));
      const lo = await measure();
      const t0 = Date.now();
      add(await seed(P.big - P.small));
      say(`7 ${name}: seeded ${P.big} records in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      const hi = await measure();
      figures[`7 small GET p99 ms at ${P.small} records ${name}`] = round(lo.p99, 3);
      figures[`7 small GET p99 ms at ${P.big} records ${name}`] = round(hi.p99, 3);
      say(`7 ${name}: random-key p99 ${fmt(lo.p99, 3)} ms at ${P.small}, ${fmt(hi.p99, 3)} ms at ${P.big} records (clean store)`);
    } finally {
      await d.stop();
    }
  }

  // ================= 7b. one expiry sweep: sweepDue due among sweepLive live, both stores; median of runs
  for (const kind of ['sqlite', 'redis'] as const) {
    const runs: { secs: number; claimed: number; deleted: number }[] = [];
    for (let run = 0; run < P.runs; run++) {
      const dir = join(WORK, `sweep-${kind}-${run}`);
      mkdirSync(dir, { recursive: true });
      const redis = kind === 'redis' ? await startRedis(dir) : undefined;
      const seed = (n: number, due: () => number) => (kind === 'sqlite' ? seedSqlite(join(dir, 'db.sqlite'), n, due) : seedRedis(redis!.url, n, due));
      await seed(P.sweepLive, () => Date.now() + 86_400_000);
      await seed(P.sweepDue, () => Date.now() - 1000);
      const store = kind === 'sqlite' ? new SqliteStore(join(dir, 'db.sqlite')) : await RedisStore.connect(redis!.url, log);
      const blobs = new FsBlobStore(dir);
      await blobs.init();
      const bus = new LocalBus(log);
      new StorageService(store, blobs, bus, log, { tombstoneTtl: 604800, orphanGrace: 3600 }).serve();
      const expiry = new ExpiryService(store, bus, log, { intervalMs: 3_600_000, leaseMs: 300_000, batch: 500 });
      const t0 = performance.now();
      const r = await expiry.sweep();
      runs.push({ secs: (performance.now() - t0) / 1000, claimed: r.claimed, deleted: r.deleted });
      await store.close();
      await redis?.proc.stop();
      rmSync(dir, { recursive: true, force: true });
    }
    const secs = median(runs.map((r) => r.secs));
    figures[`7 expiry sweep s, ${P.sweepDue} due among ${P.sweepLive} live, ${kind}`] = round(secs, 3);
    figures[`7 expiry sweep items read, ${kind}`] = Math.max(...runs.map((r) => r.claimed));
    figures[`7 expiry sweep items deleted, ${kind}`] = Math.min(...runs.map((r) => r.deleted));
    say(`7 sweep ${kind}: ${runs.map((r) => `${r.claimed} read, ${r.deleted} deleted in ${r.secs.toFixed(2)} s`).join('; ')} (${P.sweepLive} live untouched; median ${secs.toFixed(2)} s)`);
  }

  // ================= targets (ratios in this run)
  const F = (k: string) => Number(figures[k]);
  for (const [s, k] of [['all-in-one', 'aio'], ['distributed', 'dist']] as const) {
    const aio = k === 'aio';
    target(`1 large upload raw PUT vs node PUT+fsync (${s})`, F(`1 upload raw PUT MB/s ${s}`), F('1 upload PUT+fsync MB/s node'), aio ? '>=1.0' : '>=0.8');
    target(`1 large upload multipart POST vs node PUT+fsync (${s})`, F(`1 upload multipart POST MB/s ${s}`), F('1 upload PUT+fsync MB/s node'), aio ? '>=0.85' : '>=0.7');
    target(`1 large upload raw PUT vs @tus/server PATCH (${s})`, F(`1 upload raw PUT MB/s ${s}`), F('1 upload PATCH MB/s @tus/server'), aio ? '>=1.2' : '>=1.0');
    target(`2 large download vs nginx sendfile (${s})`, F(`2 download MB/s ${s}`), F('2 download MB/s nginx sendfile'), aio ? '>=0.7' : '>=0.5');
    target(`3 small downloads vs nginx static (${s})`, F(`3 small GET req/s ${s}`), F('3 small GET req/s nginx'), aio ? '>=0.20' : '>=0.10');
    target(`4 small uploads vs node PUT+fsync each (${s})`, F(`4 small POST req/s ${s}`), F('4 small PUT+fsync req/s node'), aio ? '>=0.6' : '>=0.4');
    // Row 6's references are budgets we set, not measurements of another system.
    target(`6 peak RSS MB per process, large upload, vs a 150 MB budget (${s})`, F(`6 peak RSS MB during large upload ${s}`), 150, '<=1.0');
    target(`6 peak RSS MB per process, ${P.memN}x${P.memSize / MB} MB uploads, vs a 400 MB budget (${s})`, F(`6 peak RSS MB ${P.memN}x${P.memSize / MB}MB ${s}`), 400, '<=1.0');
    target(`7 small GET p99, random keys, at ${P.big} vs ${P.small} records, clean store (${s})`, F(`7 small GET p99 ms at ${P.big} records ${s}`), F(`7 small GET p99 ms at ${P.small} records ${s}`), '<=1.3');
  }
  delete figures.tusLocation;
  const out = { date: new Date().toISOString(), quick, params: P, machine: { cpus: (await import('node:os')).cpus().length, node: process.version }, figures, targets };
  writeFileSync(join(HERE, 'results.json'), JSON.stringify(out, null, 2) + '\n');

  const w = Math.max(...targets.map((t) => t.name.length));
  console.log(`\nfileshare benchmark (${quick ? 'quick: indicative only' : 'full run'}), ${new Date().toISOString()}`);
  console.log(`${'target'.padEnd(w)}  ${'value'.padStart(10)}  ${'reference'.padStart(10)}  ${'ratio'.padStart(7)}  want     ok`);
  for (const t of targets) console.log(`${t.name.padEnd(w)}  ${fmt(t.value, 2).padStart(10)}  ${fmt(t.reference, 2).padStart(10)}  ${fmt(t.ratio, 3).padStart(7)}  ${t.target.padEnd(7)}  ${met(t) ? 'yes' : 'NO'}`);
  console.log('\nall figures:');
  for (const [k, v] of Object.entries(figures)) console.log(`  ${k}: ${v}`);
  console.log(`\n${targets.filter(met).length}/${targets.length} targets met; bench/results.json written`);
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
