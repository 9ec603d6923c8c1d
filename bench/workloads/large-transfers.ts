/** Rows 1, 2 and 6a: a large upload (multipart POST and raw PUT) and download, peak RSS during the upload. */
import { copyFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { http } from '../../test/helpers/http.js';
import { P, USER, expect, idOf, peakRss, round, say, type Bench, type PerSystem } from '../context.js';
import { MB, curl, fmt, median } from '../lib.js';

export interface LargeFigures {
  /** MB/s per system. */
  post: PerSystem<number>;
  put: PerSystem<number>;
  download: PerSystem<number>;
  /** Peak RSS (MB) of any one process during the upload. */
  uploadRss: PerSystem<number>;
  ref: { nodePut: number; nginxDavPut: number; tusPatch: number; nginxGet: number; nodeGet: number; tusGet: number };
}

const mbps = (r: { seconds: number }) => P.large / MB / r.seconds;

export async function largeTransfers(b: Bench): Promise<LargeFigures> {
  const f = { post: {}, put: {}, download: {}, uploadRss: {} } as Omit<LargeFigures, 'ref'>;
  const kept: Partial<PerSystem<string>> = {};
  for (const s of b.systems) {
    const post: number[] = [];
    const put: number[] = [];
    const peaks: number[] = [];
    for (let i = 0; i < P.runs; i++) {
      const { result: r, peak } = await peakRss(s.d, () => curl(['-u', USER.join(':'), '--form', `file=@${b.files.big}`, `${s.base}/uploads`]));
      expect(`${s.name} POST`, r, [201]);
      post.push(mbps(r));
      peaks.push(Math.max(...Object.values(peak)));
      const id = idOf(r.body);
      if (i === 0) kept[s.name] = id;
      else await http(`${s.base}/uploads/${id}`, { method: 'DELETE', auth: USER });
      const sid = idOf((await http(`${s.base}/sessions`, { method: 'POST', auth: USER })).text);
      const file = await http(`${s.base}/sessions/${sid}/files`, {
        method: 'POST',
        auth: USER,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'big.bin', size: P.large }),
      });
      const p = expect(`${s.name} PUT`, await curl(['-u', USER.join(':'), '-T', b.files.big, `${s.base}/sessions/${sid}/files/${idOf(file.text)}`]), [200]);
      put.push(mbps(p));
      await http(`${s.base}/sessions/${sid}`, { method: 'DELETE', auth: USER });
    }
    f.post[s.name] = round(median(post));
    f.put[s.name] = round(median(put));
    f.uploadRss[s.name] = round(Math.max(...peaks));
    say(`1 ${s.name}: POST ${fmt(median(post))} MB/s, PUT ${fmt(median(put))} MB/s, peak RSS ${fmt(Math.max(...peaks))} MB`);
  }

  const ref = { node: [] as number[], nginx: [] as number[], tus: [] as number[] };
  let tusLocation = '';
  for (let i = 0; i < P.runs; i++) {
    ref.node.push(mbps(expect('node PUT+fsync', await curl(['-T', b.files.big, `${b.node.url}/big-${i}`]), [201])));
    if (i > 0) await curl(['-X', 'DELETE', `${b.node.url}/big-${i}`]);
    ref.nginx.push(mbps(expect('nginx WebDAV PUT', await curl(['-T', b.files.big, `${b.nginx.url}/dav/big-${i}`]), [201, 204])));
    const created = await curl(['-X', 'POST', '-H', 'Tus-Resumable: 1.0.0', '-H', `Upload-Length: ${P.large}`, '-D', '-', '-o', '/dev/null', b.tus.url]);
    const loc = /location: (\S+)/i.exec(created.body)?.[1];
    if (created.status !== 201 || !loc) throw new Error(`bench: @tus/server POST answered ${created.status}`);
    const at = loc.startsWith('http') ? loc : new URL(loc, b.tus.url).href;
    const patch = ['-X', 'PATCH', '-T', b.files.big, '-H', 'Tus-Resumable: 1.0.0', '-H', 'Upload-Offset: 0', '-H', 'Content-Type: application/offset+octet-stream', at];
    ref.tus.push(mbps(expect('@tus/server PATCH', await curl(patch), [204])));
    if (i === 0) tusLocation = at;
  }
  say(`1 refs: node PUT+fsync ${fmt(median(ref.node))}, nginx DAV ${fmt(median(ref.nginx))}, tus PATCH ${fmt(median(ref.tus))} MB/s`);
  await b.tus.restart();

  copyFileSync(b.files.big, join(b.nginx.www, 'big.bin'));
  const dl = async (url: string, before?: () => Promise<void>) => {
    const xs: number[] = [];
    for (let i = 0; i < P.runs; i++) {
      await before?.();
      xs.push(P.large / MB / expect(`GET ${url}`, await curl(['-o', '/dev/null', url]), [200]).seconds);
    }
    return round(median(xs));
  };
  for (const s of b.systems) f.download[s.name] = await dl(`${s.base}/uploads/${kept[s.name]}`);
  const nginxGet = await dl(`${b.nginx.url}/big.bin`);
  const nodeGet = await dl(`${b.node.url}/big-0`);
  // A fresh @tus/server for every GET: it crashes after serving one on Node 20.
  const tusGet = await dl(tusLocation, () => b.tus.restart());
  await b.tus.restart();
  say(`2 download: ${b.systems.map((s) => `${s.name} ${f.download[s.name]}`).join(', ')}, nginx ${nginxGet}, node ${nodeGet}, tus ${tusGet} MB/s`);
  for (const s of b.systems) await http(`${s.base}/uploads/${kept[s.name]}`, { method: 'DELETE', auth: USER });
  rmSync(join(b.nginx.www, 'big.bin'));
  await curl(['-X', 'DELETE', `${b.node.url}/big-0`]);
  return { ...f, ref: { nodePut: round(median(ref.node)), nginxDavPut: round(median(ref.nginx)), tusPatch: round(median(ref.tus)), nginxGet, nodeGet, tusGet } };
}
