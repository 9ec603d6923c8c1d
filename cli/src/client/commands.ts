import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { STATUS_CODES } from 'node:http';
import { basename, dirname, extname, join } from 'node:path';
import { UNSAFE_NAME_CHARS, announcedSha256 } from '@fileshare/shared';
import type { Parsed } from './args.js';
import { ClientError, EXIT, expectJson, failure, send, type ClientConfig } from './http.js';
import { progress } from './progress.js';
import { RESUMABLE_THRESHOLD, createUpload, savedUpload, sendResumable } from './resumable.js';

const TYPES: Record<string, string> = {
  '.txt': 'text/plain',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.pdf': 'application/pdf',
  '.json': 'application/json',
  '.mp4': 'video/mp4',
  '.zip': 'application/zip',
  '.html': 'text/html',
};
const typeOf = (file: string) => TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';

function ttlOf(flags: Parsed['flags']): number | undefined {
  if (flags.ttl === undefined) return undefined;
  const n = Number(flags.ttl);
  if (!Number.isSafeInteger(n) || n < 1) throw new ClientError('--ttl takes a whole number of seconds', EXIT.usage);
  return n;
}

function chunkSizeOf(flags: Parsed['flags']): number | undefined {
  if (flags['chunk-size'] === undefined) return undefined;
  const n = Number(flags['chunk-size']);
  if (!Number.isSafeInteger(n) || n < 1) throw new ClientError('--chunk-size takes a number of bytes', EXIT.usage);
  return n;
}

function fileArg(path: string | undefined): { path: string; size: number } {
  if (!path) throw new ClientError('a FILE is required', EXIT.usage);
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new Error('not a regular file');
    return { path, size: st.size };
  } catch (err) {
    throw new ClientError(`cannot read ${path}: ${(err as Error).message}`, EXIT.usage);
  }
}

type Out = (human: string, data: unknown) => void;

/**
 * Resumable (docs/resumable-uploads.md) when asked (`--resumable`, `--resume`) or when the file is
 * larger than RESUMABLE_THRESHOLD; `--resume` continues the interrupted upload of the same file.
 */
async function resumableUrl(p: Parsed, cfg: ClientConfig, path: string, size: number, create: () => Promise<string>): Promise<string | undefined> {
  const resume = p.flags.resume === true;
  const chunk = chunkSizeOf(p.flags);
  if (!resume && p.flags.resumable !== true && size <= RESUMABLE_THRESHOLD) return undefined;
  const saved = resume ? await savedUpload(path, cfg) : undefined;
  if (resume && !saved) process.stderr.write(`no interrupted upload of ${path} is known here; starting a new one\n`);
  const url = saved ?? (await create());
  await sendResumable(cfg, url, path, chunk);
  return url;
}

export async function upload(p: Parsed, cfg: ClientConfig, out: Out): Promise<void> {
  const { path, size } = fileArg(p.args[0]);
  const ttl = ttlOf(p.flags);
  const resumable = await resumableUrl(p, cfg, path, size, () => createUpload(cfg, basename(path), typeOf(path), size, ttl));
  if (resumable) return out(resumable, { url: resumable, id: basename(new URL(resumable).pathname), size });
  const boundary = `----fileshare${Date.now().toString(16)}`;
  const name = basename(path).replace(/["\r\n\\]/g, '_');
  const head = Buffer.from(
    (ttl ? `--${boundary}\r\nContent-Disposition: form-data; name="ttl"\r\n\r\n${ttl}\r\n` : '') +
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\nContent-Type: ${typeOf(path)}\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const bar = progress('upload', size);
  async function* body() {
    yield head;
    for await (const c of createReadStream(path).pipe(bar)) yield c as Buffer;
    yield tail;
  }
  const { Readable } = await import('node:stream');
  const res = await send(cfg, 'POST', `${cfg.url}/uploads`, {
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': head.length + size + tail.length },
    body: Readable.from(body()),
  });
  bar.finish();
  const up = await expectJson<{ url: string }>(res, [201]);
  out(up.url, up);
}

export async function sessionCreate(p: Parsed, cfg: ClientConfig, out: Out): Promise<void> {
  const ttl = ttlOf(p.flags);
  const res = await send(cfg, 'POST', `${cfg.url}/sessions`, { headers: { 'content-type': 'application/json' }, body: ttl ? JSON.stringify({ ttl }) : '' });
  const s = await expectJson<{ id: string }>(res, [201]);
  out(s.id, s);
}

export async function sessionPut(p: Parsed, cfg: ClientConfig, out: Out): Promise<void> {
  const session = p.args[0];
  if (!session) throw new ClientError('a SESSION id is required', EXIT.usage);
  const { path, size } = fileArg(p.args[1]);
  const files = `${cfg.url}/sessions/${encodeURIComponent(session)}/files`;
  const newEntry = async () => {
    const created = await send(cfg, 'POST', files, {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: basename(path), contentType: typeOf(path), size }),
    });
    return expectJson<{ id: string }>(created, [201]);
  };
  // The entry's URL is its resumable upload URL.
  const resumable = await resumableUrl(p, cfg, path, size, async () => `${files}/${(await newEntry()).id}`);
  if (resumable) {
    const entry = await expectJson<{ id: string }>(await send(cfg, 'GET', resumable), [200]);
    return out(entry.id, entry);
  }
  const f = await newEntry();
  const bar = progress('upload', size);
  const res = await send(cfg, 'PUT', `${cfg.url}/sessions/${encodeURIComponent(session)}/files/${f.id}`, {
    headers: { 'content-type': typeOf(path), 'content-length': size },
    body: createReadStream(path).pipe(bar),
  });
  bar.finish();
  const stored = await expectJson<{ id: string }>(res, [200]);
  out(stored.id, stored);
}

export async function tokenCreate(p: Parsed, cfg: ClientConfig, out: Out): Promise<void> {
  const [session, file] = p.args;
  if (!session || !file) throw new ClientError('SESSION and FILE_ID are required', EXIT.usage);
  const ttl = ttlOf(p.flags);
  const res = await send(cfg, 'POST', `${cfg.url}/sessions/${encodeURIComponent(session)}/files/${encodeURIComponent(file)}/tokens`, {
    headers: { 'content-type': 'application/json' },
    body: ttl ? JSON.stringify({ ttl }) : '',
  });
  const t = await expectJson<{ url: string }>(res, [201]);
  out(t.url, t);
}

/**
 * The UTF-8 name of filename*=, else filename=, made safe to create in the current directory: its
 * last path segment only, without control or bidi characters and without leading dots (a sender's
 * `.bashrc` is saved as `bashrc`); `download` when nothing is left.
 */
export function nameFromDisposition(h: string | undefined, fallback: string): string {
  const star = h && /filename\*=UTF-8''([^;]+)/i.exec(h);
  const plain = h && /filename="([^"]*)"/i.exec(h);
  let name: string;
  try {
    name = star ? decodeURIComponent(star[1]) : plain ? plain[1] : fallback;
  } catch {
    name = plain ? plain[1] : fallback;
  }
  name = basename(name.replace(/\\/g, '/'))
    .replace(UNSAFE_NAME_CHARS, '')
    .replace(/^[.\s]+/, '')
    .trim();
  return name || 'download';
}

/**
 * Saves a download. The target is checked before the GET: a HEAD (which never spends a one-time
 * token) gives the server's name, and the file is created (in the target's directory, as a temp
 * file renamed at the end) before a byte is asked for. So a token is never spent on a download
 * that could not be written, an existing file is never replaced without `--force`, and a failed
 * download leaves nothing behind.
 */
export async function download(p: Parsed, cfg: ClientConfig, out: Out): Promise<void> {
  const url = p.args[0];
  if (!url || !/^https?:\/\//.test(url)) throw new ClientError('a download URL is required', EXIT.usage);
  const force = p.flags.force === true;
  const explicit = p.flags.output as string | undefined;
  const head = await send(cfg, 'HEAD', url, { auth: false });
  head.resume();
  const status = head.statusCode ?? 0;
  // Gone or unknown (404, 410): nothing left to spend, so a GET fetches the API's message. Any
  // other refusal (503, a proxy without HEAD) is reported as it is: a GET could spend the token.
  if (status === 404 || status === 410) await expectJson(await send(cfg, 'GET', url, { auth: false }), []);
  if (status !== 200) throw failure(status, STATUS_CODES[status]?.toLowerCase() ?? 'failed');
  const target = explicit ?? nameFromDisposition(head.headers['content-disposition'], basename(new URL(url).pathname));
  if (target === '-') return downloadTo(cfg, url, process.stdout, out, target);

  if (!force && existsSync(target)) throw new ClientError(`${target} exists; not overwritten (pass --force to replace it)`, EXIT.usage);
  const part = join(dirname(target), `.${basename(target)}.fileshare-${process.pid}.part`);
  let fh;
  try {
    fh = await open(part, 'wx', 0o644);
  } catch (err) {
    throw new ClientError(`cannot write ${target}: ${(err as Error).message}`, EXIT.failure);
  }
  const file = fh.createWriteStream();
  let done = false;
  try {
    await downloadTo(cfg, url, file, out, target, async () => {
      if (!force && existsSync(target)) throw new ClientError(`${target} appeared meanwhile; not overwritten (pass --force)`, EXIT.usage);
      await rename(part, target);
      done = true;
    });
  } finally {
    if (!done) await unlink(part).catch(() => undefined);
  }
}

/** Attempts to continue a broken download (Range from the bytes written, If-Range the ETag) before giving up. */
const RESUMES = 5;

/**
 * GET `url` into `sink`; `commit` runs once every byte is written (the temp file becomes the target).
 * A connection that breaks mid-way is resumed with `Range: bytes=<written>-` and `If-Range: <ETag>`
 * (a one-time link counts the pieces together as one delivery). The bytes' sha-256 is checked
 * against the server's `Repr-Digest` before the target is committed; a mismatch keeps nothing.
 */
async function downloadTo(cfg: ClientConfig, url: string, sink: NodeJS.WritableStream, out: Out, target: string, commit?: () => Promise<void>): Promise<void> {
  let res = await send(cfg, 'GET', url, { auth: false });
  if (res.statusCode !== 200) await expectJson(res, []); // throws the API's error
  const total = Number(res.headers['content-length']);
  const etag = res.headers.etag;
  const announced = serverSha256(res.headers['repr-digest']);
  const bar = progress('download', total || undefined);
  const hash = createHash('sha256');
  let written = 0;
  for (let resumes = 0; ; resumes++) {
    try {
      for await (const c of res) {
        const chunk = c as Buffer;
        hash.update(chunk);
        written += chunk.length;
        bar.tick(chunk.length);
        if (!sink.write(chunk)) await once(sink, 'drain');
      }
      if (!Number.isFinite(total) || written >= total) break;
      throw new Error('the connection ended early');
    } catch (err) {
      if (resumes >= RESUMES || !etag || !Number.isFinite(total)) throw new ClientError(`download broke after ${written} bytes: ${(err as Error).message}`, EXIT.failure);
      await new Promise((r) => setTimeout(r, 200 * 2 ** resumes));
      res = await resumeAt(cfg, url, written, etag);
      if (res.statusCode === 200) {
        // If-Range did not match: the whole of another file is coming. Not mixed with what we have.
        res.destroy();
        throw new ClientError('the file changed while it was downloaded; nothing kept', EXIT.failure);
      }
      if (res.statusCode !== 206) await expectJson(res, []); // throws the API's error (410, 404…)
    }
  }
  bar.finish();
  const sha256 = hash.digest('hex');
  if (announced && announced !== sha256) throw new ClientError(`digest mismatch: the server announced sha-256 ${announced}, the bytes are ${sha256}; nothing kept`, EXIT.failure);
  if (sink !== process.stdout) await new Promise<void>((resolve, reject) => sink.end((err?: Error | null) => (err ? reject(err) : resolve())));
  await commit?.();
  if (announced) process.stderr.write(`sha-256 verified: ${sha256}\n`);
  out(target, { file: target, bytes: written, sha256, verified: !!announced });
}

/**
 * Asks for the rest from `offset`. A one-time link answers 409 while the server still holds the
 * broken attempt's delivery (it has not noticed the cut yet; its lease lapses within 30 s): asked
 * again every second for up to 40 s.
 */
async function resumeAt(cfg: ClientConfig, url: string, offset: number, etag: string): Promise<Awaited<ReturnType<typeof send>>> {
  const until = Date.now() + 40_000;
  for (;;) {
    const res = await send(cfg, 'GET', url, { auth: false, headers: { range: `bytes=${offset}-`, 'if-range': etag } });
    if (res.statusCode !== 409 || Date.now() >= until) return res;
    res.resume();
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** The sha-256 (hex) a server's RFC 9530 header announces; none (nothing to check) when it names none or is malformed. */
function serverSha256(header: string | string[] | undefined): string | undefined {
  try {
    return typeof header === 'string' ? announcedSha256(header) : undefined;
  } catch {
    return undefined;
  }
}
