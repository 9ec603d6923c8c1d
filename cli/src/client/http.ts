import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';

export interface ClientConfig {
  /** API base, e.g. https://files.example.com/rtc/fileshare */
  url: string;
  user?: string;
  password?: string;
  insecure: boolean;
}

/** Exit codes scripts can rely on. */
export const EXIT = { ok: 0, failure: 1, usage: 2, auth: 3, notFound: 4 } as const;

export class ClientError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

/** One request; `body` may be a stream (sent with the given Content-Length). */
export function send(
  cfg: ClientConfig,
  method: string,
  url: string,
  opts: { headers?: Record<string, string | number>; body?: Readable | Buffer | string; auth?: boolean } = {},
): Promise<IncomingMessage> {
  const u = new URL(url);
  const headers: Record<string, string | number> = { ...(opts.headers ?? {}) };
  if (opts.auth !== false && cfg.user !== undefined) headers.authorization = 'Basic ' + Buffer.from(`${cfg.user}:${cfg.password ?? ''}`).toString('base64');
  const options: RequestOptions & { rejectUnauthorized?: boolean } = { method, headers, rejectUnauthorized: !cfg.insecure };
  const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(u, options);
  return new Promise((resolve, reject) => {
    req.on('response', (res) => {
      // An early answer (401, 413, 507) to a body still being sent: stop sending it.
      if ((res.statusCode ?? 0) >= 300 && opts.body && typeof opts.body === 'object' && 'unpipe' in opts.body) {
        opts.body.unpipe(req);
        opts.body.destroy();
      }
      resolve(res);
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      const fail = () => reject(reachError(u.origin, err));
      // A server that refuses a large body answers, then closes while the body is still coming:
      // the write fails (EPIPE, reset) although the answer (401, 413) is on its way. Wait for it.
      if (err.code === 'EPIPE' || err.code === 'ECONNRESET') setTimeout(fail, 1000);
      else fail();
    });
    if (opts.body === undefined || typeof opts.body === 'string' || Buffer.isBuffer(opts.body)) req.end(opts.body);
    else opts.body.pipe(req);
  });
}

/** The JSON body of a response, or a ClientError carrying the API's message and an exit code. */
export async function expectJson<T>(res: IncomingMessage, ok: number[]): Promise<T> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  let body: { message?: string } | undefined;
  try {
    body = text ? (JSON.parse(text) as { message?: string }) : undefined;
  } catch {
    body = undefined;
  }
  if (ok.includes(res.statusCode ?? 0)) return body as T;
  throw failure(res.statusCode ?? 0, body?.message ?? text.slice(0, 200));
}

export function failure(status: number, message: string): ClientError {
  const code = status === 401 || status === 403 || status === 429 ? EXIT.auth : status === 404 || status === 410 ? EXIT.notFound : EXIT.failure;
  return new ClientError(`${status}: ${message}`, code);
}

/** Certificate errors that mean "not trusted" rather than "broken". */
const UNTRUSTED = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_HAS_EXPIRED',
]);

function reachError(origin: string, err: NodeJS.ErrnoException): ClientError {
  if (err.code && UNTRUSTED.has(err.code))
    return new ClientError(
      `${origin} presented a certificate this machine does not trust (${err.message}); if it is the server's self-signed default, pass --insecure (-k) or set FILESHARE_INSECURE=true`,
      EXIT.failure,
    );
  return new ClientError(`cannot reach ${origin}: ${err.message}`, EXIT.failure);
}
