import { AppError, accessLog, checkReady, registry, type ReadyCheck } from '@fileshare/shared';
import type { Authenticator } from './auth/authenticator.js';
import type { GatewayContext } from './context.js';
import { Exchange, type RequestInfo } from './http/exchange.js';
import { Router, apiBase, apiRelative, methodNotAllowed, splitPath, type RouteRunner } from './router.js';
import { fileUploadRoutes } from './routes/files.js';
import { fileEntryRoutes, sessionRoutes } from './routes/sessions.js';
import { tokenRoutes } from './routes/tokens.js';
import { resumableRoutes } from './routes/resumable.js';
import { uploadRoutes } from './routes/uploads.js';
import type { HttpRequest, HttpResponse, TemplatedApp } from './uws.js';

/** Headers that must appear at most once (a duplicate is a request-smuggling vector behind a proxy). */
const SINGLE = new Set(['content-length', 'host', 'transfer-encoding', 'authorization', 'content-type']);

export interface Served {
  /** Requests being handled now (for graceful shutdown). */
  inFlight: Set<Exchange>;
}

/**
 * Mounts the API under `http.basePath` and the operational endpoints at the root on a uWS app.
 * Everything goes through one `any('/*')` handler: snapshot the request synchronously, check the
 * protocol-level limits, route, then run the (async) handler with errors mapped in one place.
 */
export function mountRoutes(app: TemplatedApp, ctx: GatewayContext, auth: Authenticator, checks: Record<string, ReadyCheck>, openapi: () => string): Served {
  const { cfg, log } = ctx;
  const runner: RouteRunner = {
    authenticate: async (ex) => (ex.user = await auth.authenticate(ex.req.headers.authorization ?? '', ex.req.remote)),
    maxJsonBody: cfg['limits.maxJsonBody'],
  };
  const api = new Router();
  for (const r of [...uploadRoutes(ctx), ...sessionRoutes(ctx), ...fileEntryRoutes(ctx), ...fileUploadRoutes(ctx), ...tokenRoutes(ctx), ...resumableRoutes(ctx)]) api.add(r);
  const base = apiBase(cfg['http.basePath']);
  const inFlight = new Set<Exchange>();
  const maxUrl = cfg['limits.maxUrlLength'];
  const maxHeaders = cfg['limits.maxHeaderBytes'];
  const access = accessLog(log);

  const ops: Record<string, (ex: Exchange) => Promise<void> | void> = {
    '/healthz': (ex) => ex.json(200, { status: 'ok' }),
    '/readyz': async (ex) => {
      const r = await checkReady(checks);
      ex.json(r.ok ? 200 : 503, { status: r.ok ? 'ready' : 'not ready', checks: r.checks });
    },
    '/metrics': async (ex) => {
      // Request counts, users' activity and process internals: not for anyone who can reach the port.
      if (!cfg['metrics.public']) await runner.authenticate(ex);
      ex.send(200, { 'Content-Type': registry.contentType }, await registry.metrics());
    },
    '/openapi.json': (ex) => ex.send(200, { 'Content-Type': 'application/json', 'Cache-Control': 'public, max-age=300' }, openapi()),
  };

  app.any('/*', (res: HttpResponse, req: HttpRequest) => {
    const info = snapshot(req, res);
    if (cfg['http.trustProxy'] && info.headers['x-forwarded-for']) info.remote = info.headers['x-forwarded-for'].split(',')[0].trim();
    const problem = info.problem ?? framingProblem(info, maxUrl, maxHeaders);
    const te = info.headers['transfer-encoding'];
    const cl = info.headers['content-length'];
    const hasBody = te !== undefined || (cl !== undefined && cl !== '0');
    const ex = new Exchange(res, info, log, !problem && hasBody, base, access);
    if (problem) {
      // The framing is suspect: nothing after this request may be read from the connection. uWS
      // parses pipelined requests in the same pass and does not stop at a close asked for from
      // inside a handler; an answer still pending when the next request is parsed makes it drop
      // the connection instead. So the 400 (closing) goes out on the next turn of the loop: alone,
      // the client gets it and a closed connection; with anything pipelined behind it, uWS closes
      // the connection first and nothing behind it is answered.
      ex.closeAfter = true;
      setImmediate(() => ex.fail(problem));
      return;
    }

    // A handler that answers in this turn (a kept small download) costs no promise at all.
    let pending: Promise<void> | void = undefined;
    try {
      pending = dispatch(ex, info);
    } catch (err) {
      ex.fail(err);
    }
    if (!pending) return settled(ex);
    inFlight.add(ex);
    pending.then(
      () => settled(ex),
      (err: unknown) => {
        ex.fail(err);
        settled(ex);
      },
    );
  });

  /** Runs the operational endpoint or API route the request names; throws the 404/405 of a path that names none. */
  function dispatch(ex: Exchange, info: RequestInfo): Promise<void> | void {
    const opsHandler = info.method === 'GET' || info.method === 'HEAD' ? ops[info.path] : undefined;
    if (opsHandler) {
      ex.route = info.path;
      return opsHandler(ex);
    }
    const rel = apiRelative(info.path, base);
    const segments = rel === null ? null : splitPath(rel);
    if (!segments) throw new AppError('not_found');
    const m = api.match(info.method, segments);
    if (m.kind === 'none') throw new AppError('not_found');
    if (m.kind === 'method') throw methodNotAllowed(m.allow);
    ex.route = m.route.pattern;
    return m.route.run(ex, m.params, runner);
  }

  /** After the handler: in flight until the exchange is done (a streamed body may still be going out). */
  function settled(ex: Exchange): void {
    // A handler that forgot to answer would leave the client hanging: never allowed.
    if (ex.open && ex.status === 0) ex.fail(new Error(`no response from ${ex.route}`));
    if (!ex.open) inFlight.delete(ex);
    else {
      inFlight.add(ex);
      ex.onDone(() => inFlight.delete(ex));
    }
  }
  return { inFlight };
}

/** What makes a request's framing or size unacceptable before it is routed (answered 400/414/431, closing). */
function framingProblem(info: Snapshot, maxUrl: number, maxHeaders: number): AppError | null {
  const te = info.headers['transfer-encoding'];
  const cl = info.headers['content-length'];
  if (cl !== undefined && !/^\d{1,15}$/.test(cl)) return new AppError('bad_request', 'invalid content-length');
  if (te !== undefined && cl !== undefined) return new AppError('bad_request', 'content-length with transfer-encoding');
  if (te !== undefined && te.toLowerCase() !== 'chunked') return new AppError('bad_request', 'unsupported transfer-encoding');
  if (info.path.length + info.query.length > maxUrl) return new AppError('uri_too_long');
  if (info.headerBytes > maxHeaders) return new AppError('headers_too_large');
  return null;
}

/**
 * What is read from the uWS request before any await. The peer's address costs a getpeername and
 * a formatted string, so it is read when asked (authentication, before the response ends: uWS
 * refuses access to a response that is gone).
 */
class Snapshot implements RequestInfo {
  private address: string | undefined;
  readonly startedAt = performance.now();

  constructor(
    readonly method: string,
    readonly path: string,
    readonly query: string,
    readonly headers: Record<string, string>,
    readonly problem: AppError | null,
    readonly headerBytes: number,
    private readonly res: HttpResponse,
  ) {}

  get remote(): string {
    if (this.address === undefined) {
      try {
        this.address = Buffer.from(this.res.getRemoteAddressAsText()).toString();
      } catch {
        this.address = '';
      }
    }
    return this.address;
  }

  /** A trusted proxy's `X-Forwarded-For` names the client instead. */
  set remote(address: string) {
    this.address = address;
  }
}

/**
 * A request's headers by lower-case name. Nothing of Object.prototype behind them: a header named
 * `constructor`, `toString` or `__proto__` is just a header. Not `Object.create(null)` either: V8
 * keeps such objects as dictionaries, and every header stored into a fresh one missed its inline
 * cache and kept the walk from being optimized (~6 % of a 4 KiB GET's samples). Instances of a
 * constructor whose prototype has no prototype stay fast objects.
 */
const HeaderBag = function HeaderBag() {} as unknown as new () => Record<string, string>;
HeaderBag.prototype = Object.create(null) as object;

/** The header walk's state: one callback for every request, not a closure made per request. */
let walked = new HeaderBag();
let walkedBytes = 0;
let walkProblem: AppError | null = null;
function collectHeader(k: string, v: string): void {
  walkedBytes += k.length + v.length + 4;
  const seen = walked[k];
  if (seen === undefined) walked[k] = v;
  else if (SINGLE.has(k)) walkProblem ??= new AppError('bad_request', `duplicate ${k} header`);
  else walked[k] = `${seen}, ${v}`;
}

function snapshot(req: HttpRequest, res: HttpResponse): Snapshot {
  walked = new HeaderBag();
  walkedBytes = 0;
  walkProblem = null;
  req.forEach(collectHeader);
  return new Snapshot(req.getCaseSensitiveMethod().toUpperCase(), req.getUrl(), req.getQuery() ?? '', walked, walkProblem, walkedBytes, res);
}
