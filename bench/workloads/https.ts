/**
 * The HTTPS rows: the product is served over HTTPS (port 1446), so the small GET, the large
 * download and the large raw PUT are measured over TLS too — fileshare (both systems, started
 * for this phase with the benchmark's certificate) against nginx and Node's `https` with the same
 * certificate, keep-alive, same clients. Both systems run at once, and each figure is measured
 * in turn with its reference, round by round (`inTurn`).
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startAllInOne, startDistributed, type Deployment } from '../../test/helpers/deploy.js';
import { FILESHARE_ENV, P, USER, WORK, expect, idOf, inTurn, round, say, wrkAlternating, type Bench, type PerSystem, type SystemName } from '../context.js';
import { MB, curl, fmt, median } from '../lib.js';
import { rawPut } from './large-transfers.js';
import { rate, type Rate } from './small-requests.js';

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

export async function httpsTransfers(b: Bench, tls: { key: string; cert: string; nginxUrl: string; nodeUrl: string }): Promise<HttpsFigures> {
  const env = { ...FILESHARE_ENV, FILESHARE_HTTP_TLS_ENABLED: 'true', FILESHARE_HTTP_TLS_KEY_FILE: tls.key, FILESHARE_HTTP_TLS_CERT_FILE: tls.cert };
  const f = { get: {}, download: {}, put: {} } as Omit<HttpsFigures, 'ref'>;
  copyFileSync(b.files.small, join(b.nginx.www, 'small.bin'));
  copyFileSync(b.files.big, join(b.nginx.www, 'big.bin'));
  const names: SystemName[] = ['all-in-one', 'distributed'];
  const systems = {} as PerSystem<{ d: Deployment; base: string; small: string; big: string }>;
  try {
    for (const name of names) {
      const d = name === 'all-in-one' ? await startAllInOne(env) : await startDistributed({ gateways: 1, env });
      const base = d.gateways[0];
      systems[name] = { d, base, small: '', big: '' };
      systems[name].small = idOf(expect(`${name} https small upload`, await curl(['-k', '-u', USER.join(':'), '--form', `file=@${b.files.small}`, `${base}/uploads`]), [201]).body);
      systems[name].big = idOf(expect(`${name} https large upload`, await curl(['-k', '-u', USER.join(':'), '--form', `file=@${b.files.big}`, `${base}/uploads`]), [201]).body);
    }
    // fileshare and the references in turn, round after round (inTurn).
    const get = { connections: 64, seconds: P.wrkSecs };
    const gets = await wrkAlternating({
      'all-in-one': { url: `${systems['all-in-one'].base}/uploads/${systems['all-in-one'].small}`, opts: get },
      distributed: { url: `${systems.distributed.base}/uploads/${systems.distributed.small}`, opts: get },
      nginx: { url: `${tls.nginxUrl}/small.bin`, opts: get },
    });
    const download = (what: string, url: string) => async () => mbps(expect(what, await curl(['-k', '-o', '/dev/null', url]), [200]));
    const downloads = await inTurn({
      'all-in-one': download('all-in-one https GET', `${systems['all-in-one'].base}/uploads/${systems['all-in-one'].big}`),
      distributed: download('distributed https GET', `${systems.distributed.base}/uploads/${systems.distributed.big}`),
      nginx: download('nginx https GET', `${tls.nginxUrl}/big.bin`),
    });
    const put = (name: SystemName) => async () => mbps(await rawPut(systems[name].base, b.files.big, `${name} https PUT`, ['-k']));
    const puts = await inTurn({
      'all-in-one': put('all-in-one'),
      distributed: put('distributed'),
      node: async (i) => {
        const r = mbps(expect('node https PUT', await curl(['-k', '-T', b.files.big, `${tls.nodeUrl}/big-tls-${i}`]), [201]));
        await curl(['-k', '-X', 'DELETE', `${tls.nodeUrl}/big-tls-${i}`]);
        return r;
      },
    });
    for (const name of names) {
      f.get[name] = rate(gets[name]);
      f.download[name] = round(median(downloads[name]));
      f.put[name] = round(median(puts[name]));
      say(`8 https ${name}: GET 4 KiB ${fmt(f.get[name].rps)} req/s p99 ${fmt(f.get[name].p99, 2)} ms, download ${fmt(f.download[name])} MB/s, raw PUT ${fmt(f.put[name])} MB/s`);
    }
    const ref = { nginxGet: rate(gets.nginx), nginxDownload: round(median(downloads.nginx)), nodePut: round(median(puts.node)) };
    say(
      `8 https refs: nginx GET 4 KiB ${fmt(ref.nginxGet.rps)} req/s p99 ${fmt(ref.nginxGet.p99, 2)} ms, nginx download ${fmt(ref.nginxDownload)} MB/s, node https PUT ${fmt(ref.nodePut)} MB/s`,
    );
    return { ...f, ref };
  } finally {
    rmSync(join(b.nginx.www, 'big.bin'), { force: true });
    await Promise.all(Object.values(systems).map((x) => x.d.stop()));
  }
}
