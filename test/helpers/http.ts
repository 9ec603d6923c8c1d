import { Agent, request } from 'undici';

/** One client for every test: keep-alive, accepts the self-signed certificate. */
export const agent = new Agent({ connect: { rejectUnauthorized: false }, keepAliveTimeout: 10_000, connections: 256, pipelining: 1 });

export interface Res {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  text: string;
  json: any;
}

export interface ReqOpts {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer | Uint8Array | NodeJS.ReadableStream | null;
  auth?: [string, string] | null;
}

export const basic = (user: string, pass: string) => 'Basic ' + Buffer.from(`${user}:${pass}`).toString('base64');

let responseCheck: ((method: string, url: string, res: Res) => string[]) | undefined;
/** Problems found in hand-written requests' responses (see `rawRequest`); a suite asserts none. */
export const checkFailures: string[] = [];
/** Run `check` on every response from now on in this test process; a non-empty result throws. */
export function checkEveryResponse(check: (method: string, url: string, res: Res) => string[]): void {
  responseCheck = check;
}

/** A request over real HTTP(S); the whole body read. */
export async function http(url: string, opts: ReqOpts = {}): Promise<Res> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.auth) headers.authorization = basic(...opts.auth);
  let r: Awaited<ReturnType<typeof request>>;
  let body: Buffer;
  try {
    r = await request(url, { method: (opts.method ?? 'GET') as 'GET', headers, body: opts.body as never, dispatcher: agent });
    body = Buffer.from(await r.body.arrayBuffer());
  } catch (err) {
    // A reset or a timeout names the request it hit (the socket's error alone does not).
    const e = err as Error;
    e.message = `${opts.method ?? 'GET'} ${url}: ${e.message}`;
    throw e;
  }
  const flat: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.headers)) flat[k] = Array.isArray(v) ? v.join(', ') : String(v);
  const text = body.toString('utf8');
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  const res = { status: r.statusCode, headers: flat, body, text, json };
  const problems = responseCheck?.(opts.method ?? 'GET', url, res) ?? [];
  if (problems.length) throw new Error(`response does not match docs/openapi.json:\n${problems.join('\n')}`);
  return res;
}

/** A multipart/form-data body built by hand (so tests control every byte). */
export function multipart(
  parts: { name: string; value: string | Buffer; filename?: string; type?: string }[],
  boundary = '----fileshare' + Math.random().toString(16).slice(2),
): { body: Buffer; contentType: string } {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"`;
    // Quotes as browsers and curl send them (percent-encoded), so the header stays parseable.
    if (p.filename !== undefined) head += `; filename="${p.filename.replace(/"/g, '%22')}"`;
    head += '\r\n';
    if (p.type) head += `Content-Type: ${p.type}\r\n`;
    chunks.push(Buffer.from(head + '\r\n'), Buffer.isBuffer(p.value) ? p.value : Buffer.from(p.value), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

/**
 * A request written by hand on a raw socket (TCP or TLS): for what a well-behaved client cannot
 * send (duplicate headers, lying Content-Length, slow drip) or must not wait for (an early 413
 * sent before the body is read). Writes `head` (and `body`, ignoring a reset), then reads until
 * the server closes or `timeoutMs`. Returns the raw response text ('' when closed silently).
 */
export async function rawRequest(url: string, head: string, body?: Buffer | string, timeoutMs = 5000): Promise<{ raw: string; status: number; json: any; closed: boolean }> {
  const u = new URL(url);
  const { connect: tcp } = await import('node:net');
  const { connect: tls } = await import('node:tls');
  const port = Number(u.port);
  const sock = u.protocol === 'https:' ? tls({ host: u.hostname, port, rejectUnauthorized: false }) : tcp(port, u.hostname);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let closed = false;
    const finish = () => {
      clearTimeout(timer);
      sock.destroy();
      const raw = Buffer.concat(chunks).toString('latin1');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1] ?? 0);
      const headEnd = raw.indexOf('\r\n\r\n');
      const text = headEnd >= 0 ? raw.slice(headEnd + 4) : '';
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      // Hand-written requests are checked against the document like any other (first response only).
      const [method, target] = head.split(' ');
      if (status > 0 && responseCheck && target?.startsWith('/')) {
        const headers: Record<string, string> = {};
        for (const line of raw.slice(0, headEnd).split('\r\n').slice(1)) headers[line.slice(0, line.indexOf(':')).toLowerCase()] = line.slice(line.indexOf(':') + 1).trim();
        const len = Number(headers['content-length'] ?? text.length);
        const bodyText = method === 'HEAD' ? '' : text.slice(0, len);
        const problems = responseCheck(method, `${u.origin}${target.split('?')[0]}`, { status, headers, body: Buffer.from(bodyText, 'latin1'), text: bodyText, json });
        if (problems.length) checkFailures.push(...problems);
      }
      resolve({ raw, status, json, closed });
    };
    const timer = setTimeout(finish, timeoutMs);
    sock.on('data', (c: Buffer) => {
      chunks.push(c);
      // One complete response with a Content-Length is enough.
      const text = Buffer.concat(chunks).toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      const len = /content-length: (\d+)/i.exec(text.slice(0, end))?.[1];
      if (end >= 0 && len !== undefined && text.length >= end + 4 + Number(len)) finish();
    });
    sock.on('close', () => {
      closed = true;
      finish();
    });
    sock.on('error', () => undefined);
    sock.write(head);
    if (body !== undefined) sock.write(body, () => undefined);
  });
}
