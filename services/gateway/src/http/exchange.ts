import { STATUS_CODES } from 'node:http';
import { metrics, requestCount, toAppError, type AccessLine, type Logger } from '@fileshare/shared';
import type { HttpResponse } from '../uws.js';
import { UwsBody } from './body.js';
import { apiRelative } from '../router.js';
import { redactPath } from './log-path.js';

/** What is read from the uWS request synchronously, before any await (after one, `req` throws). */
export interface RequestInfo {
  method: string;
  /** Path as received (percent-encoded), without the query. */
  path: string;
  query: string;
  headers: Record<string, string>;
  remote: string;
  startedAt: number;
}

const STATUS_LINES: Record<number, string> = {};
for (const [code, text] of Object.entries(STATUS_CODES)) STATUS_LINES[Number(code)] = `${code} ${text}`;
// tus checksum extension: the chunk's digest is not the one the client sent.
STATUS_LINES[460] = '460 Checksum Mismatch';
export const statusLine = (status: number) => STATUS_LINES[status] ?? `${status} Unknown`;

/**
 * Unread request body a refused request may still send before the connection is dropped: up to
 * this much (by its Content-Length) the answer goes out with `Connection: close` and the rest is
 * read and discarded, so that the client, busy sending, still gets its 413/401 instead of a reset
 * (uWS has already sent `100 Continue` by the time any handler runs). Beyond it, or for a chunked
 * body of unknown length, the connection is closed at once.
 */
const LINGER_MAX = 16 * 1024 * 1024;

/** Headers every response carries. */
const COMMON_HEADERS: [string, string][] = [
  ['X-Content-Type-Options', 'nosniff'],
  ['Cache-Control', 'no-store'],
];

/**
 * uWS closes a connection idle for 10 s, checked on a 4 s tick: 8–12 s after its last byte. A
 * client that keeps connections longer (undici's default is 4 s, a test's or a proxy's can be
 * 10 s or more) may send its next request just as the server closes: a reset, not an answer.
 * So every response that keeps the connection says how long it may idle (`Keep-Alive`, RFC 2068
 * §19.7.1; undici and Node's agent close their side 2 s / 1 s before it), well inside what uWS allows.
 */
const KEEP_ALIVE = 'timeout=5';

/** Header sets that are frozen (shared by many responses), as one pre-encoded block each; null: write them one by one. */
const headerBlocks = new WeakMap<object, [Buffer, Buffer] | null>();

/**
 * The lines `writeHead` writes for a frozen header set on a response that keeps its connection,
 * encoded once: a kept record's download headers go out with every GET of it, and a dozen
 * `writeHeader` calls, each converting two strings, were a measurable share of a 4 KiB GET. uWS
 * writes `name: value\r\n`, so the block is the first name and, as its "value", the rest of the
 * lines. Only for lines without CR or LF (every header here is the server's own; a set with one
 * anyway is written line by line, as before).
 */
function headerBlock(headers: Readonly<Record<string, string | number>>): [Buffer, Buffer] | null {
  let block = headerBlocks.get(headers);
  if (block !== undefined) return block;
  const lines: [string, string][] = COMMON_HEADERS.filter(([k]) => !(k in headers));
  if (!('Connection' in headers)) lines.push(['Keep-Alive', KEEP_ALIVE]);
  for (const k in headers) lines.push([k, String(headers[k])]);
  const clean = lines.every(([k, v]) => !/[\r\n]/.test(k) && !/[\r\n]/.test(v));
  block = clean ? [Buffer.from(lines[0][0]), Buffer.from([lines[0][1], ...lines.slice(1).map(([k, v]) => `${k}: ${v}`)].join('\r\n'))] : null;
  headerBlocks.set(headers, block);
  return block;
}

/**
 * One request/response pair. Wraps the uWS response so that nothing touches it after an abort
 * or after it ended, corks every write, and records status and bytes for the access log line
 * (one per request) and metrics. Error responses go through `fail`, the one place that maps
 * errors to HTTP and logs the handbook's `Error at <path>: message=…, status=…` line.
 */
export class Exchange {
  aborted = false;
  finished = false;
  status = 0;
  bytesOut = 0;
  /** Route pattern for metrics and logs (`/uploads/:id`), never the raw path. */
  route = 'unmatched';
  /** Path safe to log: anything that could be a token replaced (see `redactPath`). */
  readonly logPath: string;
  user?: string;
  /** Close the connection after this response (set for requests refused on their framing). */
  closeAfter = false;
  readonly body: UwsBody | null;
  private readonly abortHandlers: (() => void)[] = [];
  private readonly doneHandlers: (() => void)[] = [];

  constructor(
    readonly res: HttpResponse,
    readonly req: RequestInfo,
    private readonly log: Logger,
    /** Whether the request announces a body (Content-Length > 0 or chunked). */
    hasBody: boolean,
    /** `http.basePath` ('' for the root). */
    private readonly basePath = '',
    /** Where the access line goes (`accessLog(log)`, made once per gateway). */
    private readonly access: (line: AccessLine) => void,
  ) {
    this.logPath = redactPath(req.path);
    res.onAborted(() => {
      this.aborted = true;
      for (const h of this.abortHandlers) h();
      this.finish();
    });
    // onData must be attached synchronously in the handler, or early bytes are lost.
    this.body = hasBody ? new UwsBody(res, this) : null;
  }

  onAbort(handler: () => void): void {
    this.abortHandlers.push(handler);
  }

  /** Runs once the exchange is finished (answered or aborted). */
  onDone(handler: () => void): void {
    if (this.finished) handler();
    else this.doneHandlers.push(handler);
  }

  get open(): boolean {
    return !this.aborted && !this.finished;
  }

  /** Run uWS writes corked, unless the response is gone. */
  cork(fn: () => void): boolean {
    if (!this.open) return false;
    this.res.cork(fn);
    return true;
  }

  /** Writes status and headers (must be first); `closing` when uWS will close the connection after it. Call inside `cork`. */
  writeHead(status: number, headers: Record<string, string | number> = {}, closing = false): void {
    this.status = status;
    const res = this.res;
    res.writeStatus(statusLine(status));
    const block = !closing && Object.isFrozen(headers) ? headerBlock(headers) : null;
    if (block) return void res.writeHeader(block[0], block[1]);
    for (let i = 0; i < COMMON_HEADERS.length; i++) if (!(COMMON_HEADERS[i][0] in headers)) res.writeHeader(COMMON_HEADERS[i][0], COMMON_HEADERS[i][1]);
    if (!closing && !('Connection' in headers)) res.writeHeader('Keep-Alive', KEEP_ALIVE);
    for (const k in headers) {
      const v = headers[k];
      res.writeHeader(k, typeof v === 'string' ? v : String(v));
    }
  }

  /**
   * A complete response. No body goes out for HEAD (its Content-Length is the body's length), nor
   * for 204/304, which carry no Content-Length either (RFC 9110 §8.6). The connection is closed
   * after a request refused on its framing (`closeAfter`) and after one whose body was not read:
   * at once when that body is chunked or large, else after discarding the rest (`LINGER_MAX`).
   */
  send(status: number, headers: Record<string, string | number>, body?: string | Buffer): void {
    const unread = this.body !== null && !this.body.complete;
    const hardClose = this.closeAfter || (unread && !this.mayLinger());
    const softClose = unread && !hardClose;
    const bodiless = status === 204 || status === 304;
    const head = this.req.method === 'HEAD';
    this.cork(() => {
      if (softClose) this.body.discard();
      if (bodiless || (head && !hardClose)) {
        // uWS adds `Content-Length: 0` to anything it ends with a length or a close; here it may not.
        const h: Record<string, string | number> = hardClose || softClose ? { ...headers, Connection: 'close' } : { ...headers };
        if (!bodiless && !('Content-Length' in h)) h['Content-Length'] = body === undefined ? 0 : Buffer.byteLength(body);
        this.writeHead(status, h);
        this.res.endWithoutBody();
        return;
      }
      // uWS writes `Connection: close` itself when it closes.
      this.writeHead(status, softClose ? { ...headers, Connection: 'close' } : headers, hardClose);
      if (head || body === undefined) this.res.end(undefined, hardClose);
      else {
        this.bytesOut += Buffer.byteLength(body);
        this.res.end(body, hardClose);
      }
    });
    this.finish();
  }

  /** Whether the unread rest of the body is small enough to read and discard (see LINGER_MAX). */
  private mayLinger(): boolean {
    const cl = this.req.headers['content-length'];
    return cl !== undefined && Number(cl) - (this.body?.received ?? 0) <= LINGER_MAX;
  }

  json(status: number, body: unknown, headers: Record<string, string | number> = {}): void {
    this.send(status, { 'Content-Type': 'application/json', ...headers }, JSON.stringify(body));
  }

  /** The single error mapper. Unknown errors are logged with their stack and answered 500. */
  fail(err: unknown): void {
    const e = toAppError(err, this.log, { path: this.logPath, method: this.req.method });
    // Only an answer gets the handbook's line: a client that is gone got no status (499 in the access line).
    if (!this.open) return;
    // The handbook's line names the path relative to `http.basePath`.
    const apiPath = redactPath(apiRelative(this.req.path, this.basePath) ?? this.req.path);
    this.log[e.status >= 500 ? 'error' : 'warn'](`Error at ${apiPath}: message=${e.message}, status=${e.status}`);
    this.json(e.status, e.toJSON(), e.headers);
  }

  /** Marks the exchange done and writes the access log line (once). */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    for (const h of this.doneHandlers) h();
    const ms = performance.now() - this.req.startedAt;
    const status = this.aborted && !this.status ? 499 : this.status;
    const m = requestMetrics(this.route, this.req.method, status);
    m.count.inc();
    m.duration.observe(ms / 1000);
    if (this.body?.received) metrics.bytesIn.inc(this.body.received);
    this.access({
      method: this.req.method,
      path: this.logPath,
      status,
      bytesIn: this.body?.received ?? 0,
      bytesOut: this.bytesOut,
      ms: Math.round(ms * 100) / 100,
      user: this.user,
      aborted: this.aborted || undefined,
    });
  }
}

/** The methods metrics name; any other is counted as OTHER (a client picks the method: no label per invention). */
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
type RequestMetrics = { count: { inc(): void }; duration: { observe(seconds: number): void } };
const children = new Map<string, RequestMetrics>();

/**
 * The request counter and histogram of one (route, method, status), resolved once: prom-client
 * hashes the label object on every `inc`/`observe`, a measurable share of a 4 KiB download.
 */
function requestMetrics(route: string, method: string, status: number): RequestMetrics {
  const m = METHODS.has(method) ? method : 'OTHER';
  const key = `${route} ${m} ${status}`;
  let found = children.get(key);
  if (!found) {
    found = { count: requestCount(route, m, String(status)), duration: metrics.httpDuration.labels(route, m) };
    children.set(key, found);
  }
  return found;
}
