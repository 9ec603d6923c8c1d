/**
 * Rows 1, 2 and 6a: a large upload (multipart POST and raw PUT) and download, peak RSS during the
 * upload; fileshare and the references measured in turn, round by round (`inTurn`).
 */
import { copyFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { http } from '../../test/helpers/http.js';
import { P, USER, expect, idOf, inTurn, peakRss, round, say, type Bench, type PerSystem } from '../context.js';
import { MB, curl, fmt, median } from '../lib.js';

export interface LargeFigures {
  /** MB/s per system. */
  post: PerSystem<number>;
  put: PerSystem<number>;
  download: PerSystem<number>;
  /**
   * MB/s of the distributed download through storage's data plane (its second gateway, with
   * blob.fs.gatewayReads and gatewayWrites off: what a gateway that does not share the fs blobs'
   * volume gets).
   */
  downloadThroughStorage: number;
  /** Peak RSS (MB) of any one process during the upload. */
  uploadRss: PerSystem<number>;
  ref: { nodePut: number; nginxDavPut: number; tusPatch: number; nginxGet: number; nodeGet: number; tusGet: number };
}

const mbps = (r: { seconds: number }) => P.large / MB / r.seconds;

/** A raw PUT of `path` (P.large bytes) into a new session file by curl (`curlArgs` first); the session is deleted after. */
export async function rawPut(base: string, path: string, what: string, curlArgs: string[] = []): Promise<{ seconds: number }> {
  const sid = idOf((await http(`${base}/sessions`, { method: 'POST', auth: USER })).text);
  const file = await http(`${base}/sessions/${sid}/files`, {
    method: 'POST',
    auth: USER,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'big.bin', size: P.large }),
  });
  const p = expect(what, await curl([...curlArgs, '-u', USER.join(':'), '-T', path, `${base}/sessions/${sid}/files/${idOf(file.text)}`]), [200]);
  await http(`${base}/sessions/${sid}`, { method: 'DELETE', auth: USER });
  return p;
}

export async function largeTransfers(b: Bench): Promise<LargeFigures> {
  const f = { post: {}, put: {}, download: {}, uploadRss: {}, downloadThroughStorage: 0 } as Omit<LargeFigures, 'ref'>;
  const kept: Partial<PerSystem<string>> = {};
  const peaks: Partial<PerSystem<number[]>> = {};
  let tusLocation = '';
  const uploads: Record<string, (i: number) => Promise<number>> = {};
  for (const s of b.systems) {
    uploads[`${s.name} POST`] = async (i) => {
      const { result: r, peak } = await peakRss(s.d, () => curl(['-u', USER.join(':'), '--form', `file=@${b.files.big}`, `${s.base}/uploads`]));
      expect(`${s.name} POST`, r, [201]);
      (peaks[s.name] ??= []).push(Math.max(...Object.values(peak)));
      const id = idOf(r.body);
      if (i === 0) kept[s.name] = id;
      else await http(`${s.base}/uploads/${id}`, { method: 'DELETE', auth: USER });
      return mbps(r);
    };
    uploads[`${s.name} PUT`] = async () => mbps(await rawPut(s.base, b.files.big, `${s.name} PUT`));
  }
  uploads.node = async (i) => {
    const r = mbps(expect('node PUT+fsync', await curl(['-T', b.files.big, `${b.node.url}/big-${i}`]), [201]));
    if (i > 0) await curl(['-X', 'DELETE', `${b.node.url}/big-${i}`]);
    return r;
  };
  // Every system removes what a round after the first stored, as ours and the Node server do: 900 MB
  // kept per round and system put several GB of new files on the disk by round three, where
  // writes slowed by a third for everyone (measured alone: 400-470 MB/s, then ~260 for a POST).
  uploads.nginx = async (i) => {
    const r = mbps(expect('nginx WebDAV PUT', await curl(['-T', b.files.big, `${b.nginx.url}/dav/big-${i}`]), [201, 204]));
    if (i > 0) expect('nginx WebDAV DELETE', await curl(['-X', 'DELETE', `${b.nginx.url}/dav/big-${i}`]), [204]);
    return r;
  };
  uploads.tus = async (i) => {
    const created = await curl(['-X', 'POST', '-H', 'Tus-Resumable: 1.0.0', '-H', `Upload-Length: ${P.large}`, '-D', '-', '-o', '/dev/null', b.tus.url]);
    const loc = /location: (\S+)/i.exec(created.body)?.[1];
    if (created.status !== 201 || !loc) throw new Error(`bench: @tus/server POST answered ${created.status}`);
    const at = loc.startsWith('http') ? loc : new URL(loc, b.tus.url).href;
    const patch = ['-X', 'PATCH', '-T', b.files.big, '-H', 'Tus-Resumable: 1.0.0', '-H', 'Upload-Offset: 0', '-H', 'Content-Type: application/offset+octet-stream', at];
    const r = mbps(expect('@tus/server PATCH', await curl(patch), [204]));
    if (i === 0) tusLocation = at;
    else b.tus.remove(at);
    return r;
  };
  // fileshare and the references in turn, round after round (inTurn).
  const up = await inTurn(uploads);
  for (const s of b.systems) {
    f.post[s.name] = round(median(up[`${s.name} POST`]));
    f.put[s.name] = round(median(up[`${s.name} PUT`]));
    f.uploadRss[s.name] = round(Math.max(...peaks[s.name]!));
    say(`1 ${s.name}: POST ${fmt(f.post[s.name])} MB/s, PUT ${fmt(f.put[s.name])} MB/s, peak RSS ${fmt(f.uploadRss[s.name])} MB`);
  }
  const ref = { node: median(up.node), nginx: median(up.nginx), tus: median(up.tus) };
  say(`1 refs: node PUT+fsync ${fmt(ref.node)}, nginx DAV ${fmt(ref.nginx)}, tus PATCH ${fmt(ref.tus)} MB/s`);
  await b.tus.restart();

  copyFileSync(b.files.big, join(b.nginx.www, 'big.bin'));
  const get = (url: string) => async () => P.large / MB / expect(`GET ${url}`, await curl(['-o', '/dev/null', url]), [200]).seconds;
  const downloads: Record<string, () => Promise<number>> = {};
  for (const s of b.systems) downloads[s.name] = get(`${s.base}/uploads/${kept[s.name]}`);
  const dist = b.systems.find((s) => s.name === 'distributed')!;
  downloads.throughStorage = get(`${dist.d.gateways[1]}/uploads/${kept.distributed}`);
  downloads.nginx = get(`${b.nginx.url}/big.bin`);
  downloads.node = get(`${b.node.url}/big-0`);
  // @tus/server crashes a moment after serving a GET on Node 20: a fresh one after each (the one
  // that served the uploads above was restarted already).
  downloads.tus = async () => {
    try {
      return await get(tusLocation)();
    } finally {
      await b.tus.restart();
    }
  };
  const dl = await inTurn(downloads);
  for (const s of b.systems) f.download[s.name] = round(median(dl[s.name]));
  f.downloadThroughStorage = round(median(dl.throughStorage));
  const [nginxGet, nodeGet, tusGet] = [dl.nginx, dl.node, dl.tus].map((xs) => round(median(xs)));
  say(
    `2 download: ${b.systems.map((s) => `${s.name} ${f.download[s.name]}`).join(', ')} (through storage ${f.downloadThroughStorage}), nginx ${nginxGet}, node ${nodeGet}, tus ${tusGet} MB/s`,
  );
  for (const s of b.systems) await http(`${s.base}/uploads/${kept[s.name]}`, { method: 'DELETE', auth: USER });
  rmSync(join(b.nginx.www, 'big.bin'));
  await curl(['-X', 'DELETE', `${b.node.url}/big-0`]);
  return { ...f, ref: { nodePut: round(ref.node), nginxDavPut: round(ref.nginx), tusPatch: round(ref.tus), nginxGet, nodeGet, tusGet } };
}
