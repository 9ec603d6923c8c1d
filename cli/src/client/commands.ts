import { createReadStream, createWriteStream, existsSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, extname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { ClientError, EXIT, expectJson, send, type ClientConfig } from './http.js';
import { progress } from './progress.js';

export const CLIENT_OPTIONS = `Client options: --url BASE (e.g. https://host:1446/rtc/fileshare), --user NAME, --insecure
(accept a self-signed certificate), --json (machine-readable output).
Credentials: FILESHARE_URL, FILESHARE_USER, FILESHARE_PASSWORD, or ~/.config/fileshare/client.json
({"url","user","password"}); the password is never printed and is best not given as a flag.
Exit codes: 0 ok, 1 failure, 2 usage, 3 authentication, 4 not found or gone.`;

export const CLIENT_USAGE = `Client:
  fileshare upload FILE [--ttl SECONDS]             simple upload; prints the download URL
  fileshare session create [--ttl SECONDS]          prints the session id
  fileshare session put SESSION FILE                adds FILE to the session; prints the file id
  fileshare token SESSION FILE_ID [--ttl SECONDS]   one-time download URL for one recipient
  fileshare download URL [-o FILE]                  saves a download (name from the server by default)

${CLIENT_OPTIONS}`;

const TYPES: Record<string, string> = { '.txt': 'text/plain', '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.gif': 'image/gif', '.pdf': 'application/pdf', '.json': 'application/json', '.mp4': 'video/mp4', '.zip': 'application/zip', '.html': 'text/html' };
const typeOf = (file: string) => TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';

export interface Parsed {
  args: string[];
  flags: Record<string, string | true>;
}

/** `--name value`, `--flag`, `-o value`; everything else positional. */
export function parseArgs(argv: string[]): Parsed {
  const args: string[] = [];
  const flags: Record<string, string | true> = {};
  const valued = new Set(['--ttl', '--url', '--user', '--password', '-o', '--output']);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (valued.has(a)) {
      if (i + 1 >= argv.length) throw new ClientError(`${a} needs a value`, EXIT.usage);
      flags[a.replace(/^-+/, '')] = argv[++i];
    } else if (a.startsWith('-')) flags[a.replace(/^-+/, '')] = true;
    else args.push(a);
  }
  return { args, flags };
}

export function clientConfig(flags: Parsed['flags'], env = process.env): ClientConfig {
  const file = join(env.HOME ?? homedir(), '.config', 'fileshare', 'client.json');
  const saved = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Partial<ClientConfig>) : {};
  const url = (flags.url as string) ?? env.FILESHARE_URL ?? saved.url ?? 'https://localhost:1446/rtc/fileshare';
  return {
    url: url.replace(/\/$/, ''),
    user: (flags.user as string) ?? env.FILESHARE_USER ?? saved.user,
    password: (flags.password as string) ?? env.FILESHARE_PASSWORD ?? saved.password,
    insecure: flags.insecure === true || env.FILESHARE_INSECURE === 'true' || saved.insecure === true,
  };
}

function ttlOf(flags: Parsed['flags']): number | undefined {
  if (flags.ttl === undefined) return undefined;
  const n = Number(flags.ttl);
  if (!Number.isSafeInteger(n) || n < 1) throw new ClientError('--ttl takes a whole number of seconds', EXIT.usage);
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

export async function upload(p: Parsed, cfg: ClientConfig, out: Out): Promise<void> {
  const { path, size } = fileArg(p.args[0]);
  const ttl = ttlOf(p.flags);
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
  const created = await send(cfg, 'POST', `${cfg.url}/sessions/${encodeURIComponent(session)}/files`, {
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: basename(path), contentType: typeOf(path), size }),
  });
  const f = await expectJson<{ id: string }>(created, [201]);
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

/** The UTF-8 name of filename*=, else filename=, reduced to a plain file name. */
export function nameFromDisposition(h: string | undefined, fallback: string): string {
  const star = h && /filename\*=UTF-8''([^;]+)/i.exec(h);
  const plain = h && /filename="([^"]*)"/i.exec(h);
  let name = star ? decodeURIComponent(star[1]) : plain ? plain[1] : fallback;
  name = basename(name.replace(/\\/g, '/')).replace(/[\u0000-\u001f]/g, '');
  return name && name !== '..' && name !== '.' ? name : 'download';
}

export async function download(p: Parsed, cfg: ClientConfig, out: Out): Promise<void> {
  const url = p.args[0];
  if (!url || !/^https?:\/\//.test(url)) throw new ClientError('a download URL is required', EXIT.usage);
  const res = await send(cfg, 'GET', url, { auth: false });
  if (res.statusCode !== 200) await expectJson(res, []); // throws the API's error
  const target = (p.flags.o as string) ?? (p.flags.output as string) ?? nameFromDisposition(res.headers['content-disposition'], basename(new URL(url).pathname));
  const total = Number(res.headers['content-length']) || undefined;
  const bar = progress('download', total);
  await pipeline(res, bar, target === '-' ? process.stdout : createWriteStream(target));
  bar.finish();
  out(target, { file: target, bytes: total });
}
