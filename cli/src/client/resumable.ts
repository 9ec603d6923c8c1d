import { createReadStream, statSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { IncomingMessage } from 'node:http';
import { ClientError, EXIT, expectJson, failure, send, type ClientConfig } from './http.js';
import { progress } from './progress.js';

/**
 * Resumable uploads from the CLI (tus 1.0, docs/resumable-uploads.md): the file goes up in chunks
 * of CHUNK bytes, each a PATCH from the offset the server acknowledged. A dropped connection or a
 * restarted server costs at most the chunk in flight: the client asks where the upload stands
 * (HEAD) and goes on, a few times; if it gives up, the upload's URL stays in a small state file
 * and `--resume FILE` continues it later, from another process.
 *
 * State: `$XDG_STATE_HOME/fileshare/uploads.json` (default ~/.local/state/…), one entry per
 * absolute file path: the upload URL, the server, the file's size and mtime (a changed file is not
 * resumed). An entry goes when its upload completes.
 */

/** Files larger than this go up resumably without being asked (a single request is capped below 1e9 bytes by the server's HTTP layer). */
export const RESUMABLE_THRESHOLD = 64 * 1024 * 1024;
/** Default chunk size (`--chunk-size`): what a retry may have to send again. */
export const CHUNK = 32 * 1024 * 1024;
/** Attempts per chunk before giving up (the state file keeps the upload for `--resume`). */
const RETRIES = 5;
const TUS = { 'tus-resumable': '1.0.0' };

interface Saved {
  url: string;
  server: string;
  size: number;
  mtimeMs: number;
}

function stateFile(env = process.env): string {
  return join(env.XDG_STATE_HOME || join(env.HOME ?? homedir(), '.local', 'state'), 'fileshare', 'uploads.json');
}
async function readState(): Promise<Record<string, Saved>> {
  try {
    return JSON.parse(await readFile(stateFile(), 'utf8')) as Record<string, Saved>;
  } catch {
    return {};
  }
}
/** Rewritten whole through a temp file and a rename: a crash leaves the old state or the new one. */
async function updateState(path: string, entry: Saved | undefined): Promise<void> {
  const file = stateFile();
  const state = await readState();
  if (entry) state[resolve(path)] = entry;
  else delete state[resolve(path)];
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  await writeFile(`${file}.tmp`, JSON.stringify(state, null, 1), { mode: 0o600 });
  await rename(`${file}.tmp`, file);
}

/** The interrupted upload of `path` the state file knows, if the file is still the one it was. */
export async function savedUpload(path: string, cfg: ClientConfig): Promise<string | undefined> {
  const s = (await readState())[resolve(path)];
  if (!s || s.server !== cfg.url) return undefined;
  const st = statSync(path);
  if (st.size !== s.size || st.mtimeMs !== s.mtimeMs) throw new ClientError(`${path} changed since its upload was interrupted; upload it again without --resume`, EXIT.usage);
  return s.url;
}

/** `POST /uploads` with tus headers: a new upload of `size` bytes; its URL. */
export async function createUpload(cfg: ClientConfig, name: string, type: string, size: number, ttl?: number): Promise<string> {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const meta = [`filename ${b64(name)}`, `filetype ${b64(type)}`, ...(ttl ? [`ttl ${b64(String(ttl))}`] : [])].join(',');
  const res = await send(cfg, 'POST', `${cfg.url}/uploads`, { headers: { ...TUS, 'upload-length': size, 'upload-metadata': meta } });
  return (await expectJson<{ url: string }>(res, [201])).url;
}

/**
 * Sends `path` to the upload at `url` from wherever the server says it stands, chunk by chunk, with
 * a progress bar; remembers the URL in the state file until the last byte is acknowledged.
 */
export async function sendResumable(cfg: ClientConfig, url: string, path: string, chunk = CHUNK): Promise<void> {
  const st = statSync(path);
  await updateState(path, { url, server: cfg.url, size: st.size, mtimeMs: st.mtimeMs });
  let at = await where(cfg, url).catch(async (err: unknown) => {
    if (err instanceof ClientError && err.exitCode === EXIT.notFound) await updateState(path, undefined);
    throw err;
  });
  const bar = progress('upload', st.size);
  bar.tick(at.offset);
  let failures = 0;
  while (!at.complete) {
    if (at.offset > st.size) throw new ClientError(`the upload at ${url} is longer than ${path}`, EXIT.failure);
    try {
      at = await patch(cfg, url, path, at.offset, Math.min(st.size, at.offset + chunk), bar);
      failures = 0;
    } catch (err) {
      if (err instanceof ClientError && err.exitCode !== EXIT.failure) {
        // Refused: retrying will not help. A gone upload is forgotten; anything else stays resumable.
        if (err.exitCode === EXIT.notFound) await updateState(path, undefined);
        throw err;
      }
      if (++failures >= RETRIES) throw new ClientError(`${(err as Error).message}; run again with --resume ${path} to continue`, EXIT.failure);
      await new Promise((r) => setTimeout(r, 250 * 2 ** failures));
      at = await where(cfg, url).catch(() => at);
      bar.set(at.offset);
    }
  }
  bar.finish();
  await updateState(path, undefined);
}

interface Position {
  offset: number;
  /** Every byte is in (tus: no Upload-Expires any more). */
  complete: boolean;
}

/** One chunk, `from`–`to` of the file, as one PATCH; where the upload stands after it. */
async function patch(cfg: ClientConfig, url: string, path: string, from: number, to: number, bar: ReturnType<typeof progress>): Promise<Position> {
  let body: Buffer | ReturnType<typeof createReadStream> = Buffer.alloc(0);
  if (to > from) {
    body = createReadStream(path, { start: from, end: to - 1 });
    body.on('data', (c: string | Buffer) => bar.tick(c.length));
  }
  const res = await send(cfg, 'PATCH', url, {
    headers: { ...TUS, 'content-type': 'application/offset+octet-stream', 'upload-offset': from, 'content-length': to - from },
    body,
  });
  if (res.statusCode === 409) {
    // Offset behind (an acknowledgement was lost) or another writer: ask again, then go on.
    res.resume();
    throw new ClientError('409: the upload moved meanwhile', EXIT.failure);
  }
  await expectJson(res, [204]);
  return position(res);
}

/** HEAD: where the upload stands. 404/410: it is gone (the state entry is dropped). */
async function where(cfg: ClientConfig, url: string): Promise<Position> {
  const res = await send(cfg, 'HEAD', url, { headers: TUS });
  res.resume();
  if (res.statusCode === 404 || res.statusCode === 410) throw failure(res.statusCode, 'the upload is gone (expired or deleted); upload the file again');
  if (res.statusCode !== 204) throw failure(res.statusCode ?? 0, 'cannot ask where the upload stands');
  return position(res);
}

function position(res: IncomingMessage): Position {
  const offset = Number(res.headers['upload-offset']);
  if (!Number.isSafeInteger(offset) || offset < 0) throw new ClientError('the server sent no upload offset', EXIT.failure);
  return { offset, complete: res.headers['upload-expires'] === undefined };
}
