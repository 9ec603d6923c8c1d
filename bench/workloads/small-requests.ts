/** Rows 3 and 4: 4 KiB downloads and 4 KiB authenticated uploads at 64 connections (wrk). */
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AUTH, P, USER, WORK, checked, expect, idOf, round, say, wrkAlternating, type Bench, type PerSystem, type SystemName, type WrkLoad } from '../context.js';
import { curl, wrk } from '../lib.js';

export interface Rate {
  rps: number;
  /** ms */
  p99: number;
}
export interface SmallFigures {
  get: PerSystem<Rate>;
  post: PerSystem<Rate>;
  ref: { nginxGet: Rate; nodeGet: Rate; nodePut: Rate; nodePutOnePath: number };
}
/** A figure as reported: req/s to 2 decimals, p99 (ms) to 3. */
export const rate = (w: { rps: number; p99: number }): Rate => ({ rps: round(w.rps), p99: round(w.p99, 3) });

/** wrk's script for 4 KiB authenticated multipart uploads (POST /uploads), written once; its path. */
export function uploadScript(): string {
  const boundary = 'benchboundary7MA4YWxkTrZu0gW';
  const bodyStr = `--${boundary}\\r\\nContent-Disposition: form-data; name=\\"file\\"; filename=\\"s.bin\\"\\r\\nContent-Type: application/octet-stream\\r\\n\\r\\n${'x'.repeat(4096)}\\r\\n--${boundary}--\\r\\n`;
  const postLua = join(WORK, 'post.lua');
  writeFileSync(
    postLua,
    `wrk.method = "POST"\nwrk.body = "${bodyStr}"\nwrk.headers["Content-Type"] = "multipart/form-data; boundary=${boundary}"\nwrk.headers["Authorization"] = "${AUTH}"\n`,
  );
  return postLua;
}

export async function smallRequests(b: Bench): Promise<SmallFigures> {
  const get = {} as PerSystem<Rate>;
  const post = {} as PerSystem<Rate>;
  copyFileSync(b.files.small, join(b.nginx.www, 'small.bin'));
  expect('node PUT small', await curl(['-T', b.files.small, `${b.node.url}/small`]), [201]);
  const getLoads = {
    nginx: { url: `${b.nginx.url}/small.bin`, opts: { connections: 64, seconds: P.wrkSecs } },
    node: { url: `${b.node.url}/small`, opts: { connections: 64, seconds: P.wrkSecs } },
  } as Record<SystemName | 'nginx' | 'node', WrkLoad>;
  for (const s of b.systems) {
    const id = idOf(expect(`${s.name} small upload`, await curl(['-u', USER.join(':'), '--form', `file=@${b.files.small}`, `${s.base}/uploads`]), [201]).body);
    getLoads[s.name] = { url: `${s.base}/uploads/${id}`, opts: { connections: 64, seconds: P.wrkSecs } };
  }
  // Each system and its references in turn, round after round (wrkAlternating).
  const gets = await wrkAlternating(getLoads);
  for (const s of b.systems) get[s.name] = rate(gets[s.name]);
  const nginxGet = rate(gets.nginx);
  const nodeGet = rate(gets.node);
  say(`3 small GET: ${b.systems.map((s) => `${s.name} ${get[s.name].rps}`).join(', ')}, nginx ${nginxGet.rps}, node ${nodeGet.rps} req/s`);

  const postLua = uploadScript();
  // Each PUT creates a new file, as each fileshare upload does: names are (second, wrk thread,
  // counter), never reused across the repeated runs. (PUTs that all overwrite one path measure
  // something else: rewriting an existing inode costs the kernel far less than creating one; that
  // figure is kept for context.)
  const putLua = join(WORK, 'put.lua');
  const putSameLua = join(WORK, 'put-same.lua');
  writeFileSync(
    putLua,
    `wrk.method = "PUT"\nwrk.body = string.rep("x", 4096)\nlocal threads = 0\nfunction setup(thread) threads = threads + 1; thread:set("tid", threads) end\nlocal n = 0\nfunction request() n = n + 1; return wrk.format(nil, "/small-up-" .. os.time() .. "-" .. tid .. "-" .. n) end\n`,
  );
  writeFileSync(putSameLua, `wrk.method = "PUT"\nwrk.body = string.rep("x", 4096)\n`);
  const postLoads = { node: { url: `${b.node.url}/small-up`, opts: { connections: 64, seconds: P.wrkSecs, script: putLua } } } as Record<SystemName | 'node', WrkLoad>;
  for (const s of b.systems) postLoads[s.name] = { url: `${s.base}/uploads`, opts: { connections: 64, seconds: P.wrkSecs, script: postLua } };
  const posts = await wrkAlternating(postLoads);
  for (const s of b.systems) post[s.name] = rate(posts[s.name]);
  const nodePut = rate(posts.node);
  const onePath = checked('node PUT, one path', await wrk(`${b.node.url}/small-same`, { connections: 64, seconds: P.wrkSecs, script: putSameLua }));
  say(`4 small uploads: ${b.systems.map((s) => `${s.name} ${post[s.name].rps}`).join(', ')}, node ${nodePut.rps} req/s (one path overwritten: ${round(onePath.rps)})`);
  return { get, post, ref: { nginxGet, nodeGet, nodePut, nodePutOnePath: round(onePath.rps) } };
}
