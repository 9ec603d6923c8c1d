import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import Database from 'better-sqlite3';
import { hashPassword, isVolumeProbe } from '@fileshare/shared';
import type { Deployment } from './deploy.js';
import { http, multipart, type Res } from './http.js';

export const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A second user (besides the handbook's fixed foo:bar), written to the users file before start. */
export const ALICE: [string, string] = ['alice', 'alice-secret-pw'];
export async function writeUsersFile(dataDir: string): Promise<void> {
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(join(dataDir, 'users.json'), JSON.stringify({ users: [{ username: ALICE[0], hash: await hashPassword(ALICE[1]) }] }));
}

/** Files under a directory tree (blobs and temp files left behind are what tests look for). */
export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return []; // not there, or removed while being listed
  }
  for (const e of entries) {
    const p = join(dir, e);
    // Listed, then deleted before it was looked at (a deletion in progress): not there.
    const st = statSync(p, { throwIfNoEntry: false });
    if (st?.isDirectory()) out.push(...filesUnder(p));
    else if (st) out.push(p);
  }
  return out;
}

/** What an fs blob store under `root` holds: blob files, temp files and the rows of blobs.db. */
export function fsBlobs(root: string): string[] {
  // A gateway's volume probe (in tmp/ and blobs/, blob.fs.gatewayWrites) lives a moment and holds no blob.
  const files = [...filesUnder(join(root, 'blobs')), ...filesUnder(join(root, 'tmp'))].filter((f) => !isVolumeProbe(basename(f)));
  // Small blobs: rows of blobs.db, or (all-in-one) of the record store's fileshare.db.
  for (const file of ['blobs.db', 'fileshare.db']) {
    const dbPath = join(root, file);
    if (!existsSync(dbPath)) continue;
    const db = new Database(dbPath);
    try {
      if (!db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'blobs'").get()) continue;
      files.push(
        ...db
          .prepare<[], { key: string }>('SELECT key FROM blobs')
          .all()
          .map((r) => `${file}:${r.key}`),
      );
    } finally {
      db.close();
    }
  }
  return files;
}

/** Every stored blob of a deployment: fs blobs (files, temp files, blobs.db rows), or the S3 bucket's objects (s3rver's dir). */
export function storedBlobs(d: Deployment): string[] {
  if (d.engines.s3) return filesUnder(join(d.engines.s3.dir, d.engines.s3.bucket)).filter((f) => f.endsWith('._S3rver_object'));
  return fsBlobs(d.dataDir);
}

export async function upload(
  base: string,
  user: [string, string],
  content: Buffer | string,
  opts: { name?: string; ttl?: string; ttlFirst?: boolean; type?: string } = {},
): Promise<Res> {
  const file = { name: 'file', value: Buffer.from(content), filename: opts.name ?? 'test.txt', type: opts.type ?? 'text/plain' };
  const ttl = opts.ttl !== undefined ? [{ name: 'ttl', value: opts.ttl }] : [];
  const mp = multipart(opts.ttlFirst ? [...ttl, file] : [file, ...ttl]);
  return http(`${base}/uploads`, { method: 'POST', auth: user, headers: { 'content-type': mp.contentType }, body: mp.body });
}

export async function newSession(base: string, user: [string, string], ttl?: number): Promise<string> {
  const r = await http(`${base}/sessions`, { method: 'POST', auth: user, headers: { 'content-type': 'application/json' }, body: ttl ? JSON.stringify({ ttl }) : '' });
  if (r.status !== 201) throw new Error(`session: ${r.status} ${r.text}`);
  return r.json.id;
}

/** A session with one ready file holding `content`; returns ids. */
export async function readyFile(base: string, user: [string, string], content: Buffer | string, sessionTtl?: number): Promise<{ sid: string; fid: string }> {
  const sid = await newSession(base, user, sessionTtl);
  const f = await http(`${base}/sessions/${sid}/files`, { method: 'POST', auth: user, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'doc.bin' }) });
  const put = await http(`${base}/sessions/${sid}/files/${f.json.id}`, { method: 'PUT', auth: user, body: Buffer.from(content) });
  if (put.status !== 200) throw new Error(`put: ${put.status} ${put.text}`);
  return { sid, fid: f.json.id };
}

export async function token(base: string, user: [string, string], sid: string, fid: string, ttl?: number): Promise<Res> {
  return http(`${base}/sessions/${sid}/files/${fid}/tokens`, {
    method: 'POST',
    auth: user,
    headers: { 'content-type': 'application/json' },
    body: ttl !== undefined ? JSON.stringify({ ttl }) : '',
  });
}

/** Poll until `fn` is true (bounded). */
export async function eventually(fn: () => Promise<boolean> | boolean, timeoutMs = 10_000, stepMs = 100): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await fn()) return true;
    await sleep(stepMs);
  }
  return fn();
}

/** What a crash test acknowledged: paths under a gateway's API base and the sha256 of their bytes. */
export interface Acknowledged {
  url: string;
  sha: string;
}

/**
 * Everything acknowledged before a crash downloads with its sha256 through `base`; each one-time
 * token works once, then answers 410.
 */
export async function assertSurvived(t: import('ava').ExecutionContext, base: string, uploads: Acknowledged[], tokens: Acknowledged[]): Promise<void> {
  for (const a of uploads) {
    const r = await http(base + a.url);
    t.is(r.status, 200, a.url);
    t.is(sha256(r.body), a.sha, a.url);
  }
  for (const tk of tokens) {
    const r = await http(base + tk.url);
    t.is(r.status, 200, tk.url);
    t.is(sha256(r.body), tk.sha, tk.url);
    t.is((await http(base + tk.url)).status, 410, `${tk.url} used once`);
  }
}
