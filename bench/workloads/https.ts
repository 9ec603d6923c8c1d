/**
 * The HTTPS rows: the product is served over HTTPS (port 1446), so the small GET, the large
 * download and the large raw PUT are measured over TLS too — fileshare (both systems, started
 * for this phase with the benchmark's certificate) against nginx and Node's `https` with the same
 * certificate, keep-alive, same clients.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startAllInOne, startDistributed } from '../../test/helpers/deploy.js';
import { http } from '../../test/helpers/http.js';
import { FILESHARE_ENV, P, USER, WORK, expect, idOf, round, say, wrkMedian, type Bench, type PerSystem, type SystemName } from '../context.js';
import { MB, curl, fmt, median } from '../lib.js';
import type { Rate } from './small-requests.js';

export interface HttpsFigures {
  get: PerSystem<Rate>;
  download: PerSystem<number>;
  put: PerSystem<number>;
  ref: { nginxGet: Rate; nginxDownload: number; nodePut: number };
}

/** A self-signed key and certificate for 127.0.0.1, made once per run. */
export function benchCertificate(): { key: string; cert: string } {
  const dir = join(WORK, 'tls');
  mkdirSync(dir, { recursive: true });
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' });
  return { key, cert };
}

const mbps = (r: { seconds: number }) => P.large / MB / r.seconds;

async function times(n: number, one: (i: number) => Promise<number>): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < n; i++) xs.push(await one(i));
  return round(median(xs));
}

export async function httpsTransfers(b: Bench, tls: { key: string; cert: string; nginxUrl: string; nodeUrl: string }): Promise<HttpsFigures> {
  const env = { ...FILESHARE_ENV, FILESHARE_HTTP_TLS_ENABLED: 'true', FILESHARE_HTTP_TLS_KEY_FILE: tls.key, FILESHARE_HTTP_TLS_CERT_FILE: tls.cert };
  const f = { get: {}, download: {}, put: {} } as Omit<HttpsFigures, 'ref'>;
  copyFileSync(b.files.small, join(b.nginx.www, 'small.bin'));
  copyFileSync(b.files.big, join(b.nginx.www, 'big.bin'));
  for (const name of ['all-in-one', 'distributed'] as SystemName[]) {
    const d = name === 'all-in-one' ? await startAllInOne(env) : await startDistributed({ gateways: 1, env });
    try {
      const base = d.gateways[0];
      const small = idOf(expect(`${name} https small upload`, await curl(['-k', '-u', USER.join(':'), '--form', `file=@${b.files.small}`, `${base}/uploads`]), [201]).body);
      f.get[name] = rate(await wrkMedian(`${base}/uploads/${small}`, { connections: 64, seconds: P.wrkSecs }));
      const big = idOf(expect(`${name} https large upload`, await curl(['-k', '-u', USER.join(':'), '--form', `file=@${b.files.big}`, `${base}/uploads`]), [201]).body);
      f.download[name] = await times(P.runs, async () => mbps(expect(`${name} https GET`, await curl(['-k', '-o', '/dev/null', `${base}/uploads/${big}`]), [200])));
      f.put[name] = await times(P.runs, async () => {
        const sid = idOf((await http(`${base}/sessions`, { method: 'POST', auth: USER })).text);
        const file = await http(`${base}/sessions/${sid}/files`, {
          method: 'POST',
          auth: USER,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ name: 'big.bin', size: P.large }),
        });
        const r = mbps(expect(`${name} https PUT`, await curl(['-k', '-u', USER.join(':'), '-T', b.files.big, `${base}/sessions/${sid}/files/${idOf(file.text)}`]), [200]));
        await http(`${base}/sessions/${sid}`, { method: 'DELETE', auth: USER });
        return r;
      });
      say(`8 https ${name}: GET 4 KiB ${fmt(f.get[name].rps)} req/s p99 ${fmt(f.get[name].p99, 2)} ms, download ${fmt(f.download[name])} MB/s, raw PUT ${fmt(f.put[name])} MB/s`);
    } finally {
      await d.stop();
    }
  }
  const nginxGet = rate(await wrkMedian(`${tls.nginxUrl}/small.bin`, { connections: 64, seconds: P.wrkSecs }));
  const nginxDownload = await times(P.runs, async () => mbps(expect('nginx https GET', await curl(['-k', '-o', '/dev/null', `${tls.nginxUrl}/big.bin`]), [200])));
  const nodePut = await times(P.runs, async (i) => mbps(expect('node https PUT', await curl(['-k', '-T', b.files.big, `${tls.nodeUrl}/big-tls-${i}`]), [201])));
  await Promise.all(Array.from({ length: P.runs }, (_, i) => curl(['-k', '-X', 'DELETE', `${tls.nodeUrl}/big-tls-${i}`])));
  rmSync(join(b.nginx.www, 'big.bin'), { force: true });
  say(`8 https refs: nginx GET 4 KiB ${fmt(nginxGet.rps)} req/s p99 ${fmt(nginxGet.p99, 2)} ms, nginx download ${fmt(nginxDownload)} MB/s, node https PUT ${fmt(nodePut)} MB/s`);
  return { ...f, ref: { nginxGet, nginxDownload, nodePut } };
}

const rate = (w: { rps: number; p99: number }): Rate => ({ rps: round(w.rps), p99: round(w.p99, 3) });
