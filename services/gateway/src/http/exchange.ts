import { STATUS_CODES } from 'node:http';
import { AppError, isAppError, metrics, type Logger } from '@fileshare/shared';
import type { HttpResponse } from '../uws.js';
import { UwsBody } from './body.js';

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
export const statusLine = (status: number) => STATUS_LINES[status] ?? `${status} Unknown`;

/** Headers every response carries. */
const COMMON_HEADERS: [string, string][] = [
  ['X-Content-Type-Options', 'nosniff'],
  ['Cache-Control', 'no-store'],
];

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
  /** Path safe to log: secrets (token ids) replaced. */
  logPath: string;
  /** The same, relative to `http.basePath` (the handbook's error line uses API paths). */
  apiPath: string;
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
  ) {
    this.logPath = req.path;
    this.apiPath = req.path;
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

  /** Writes status and headers (must be first). Call inside `cork`. */
  writeHead(status: number, headers: Record<string, string | number> = {}): void {
    this.status = status;
    this.res.writeStatus(statusLine(status));
    for (const [k, v] of COMMON_HEADERS) if (!(k in headers)) this.res.writeHeader(k, v);
    for (const k in headers) this.res.writeHeader(k, String(headers[k]));
  }

  /** A complete response. The connection is closed when the request body was not fully read. */
  send(status: number, headers: Record<string, string | number>, body?: string | Buffer): void {
    const close = this.closeAfter || (this.body !== null && !this.body.complete);
    this.cork(() => {
      this.writeHead(status, close ? { ...headers, Connection: 'close' } : headers);
      if (body === undefined) this.res.endWithoutBody(0, close);
      else {
        this.bytesOut += Buffer.byteLength(body);
        this.res.end(body, close);
      }
    });
    this.finish();
  }

  json(status: number, body: unknown, headers: Record<string, string | number> = {}): void {
    this.send(status, { 'Content-Type': 'application/json', ...headers }, JSON.stringify(body));
  }

  /** The single error mapper. Unknown errors are logged with their stack and answered 500. */
  fail(err: unknown): void {
    let e: AppError;
    if (isAppError(err)) e = err;
    else {
      this.log.error({ err, path: this.logPath, method: this.req.method }, 'unhandled error');
      e = new AppError('internal');
    }
    this.log[e.status >= 500 ? 'error' : 'warn'](`Error at ${this.apiPath}: message=${e.message}, status=${e.status}`);
    if (!this.open) return;
    this.json(e.status, e.toJSON(), e.headers);
  }

  /** Marks the exchange done and writes the access log line (once). */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    for (const h of this.doneHandlers) h();
    const ms = performance.now() - this.req.startedAt;
    const status = this.aborted && !this.status ? 499 : this.status;
    metrics.httpRequests.inc({ route: this.route, method: this.req.method, status });
    metrics.httpDuration.observe({ route: this.route, method: this.req.method }, ms / 1000);
    if (this.body?.received) metrics.bytesIn.inc(this.body.received);
    this.log.info(
      { method: this.req.method, path: this.logPath, status, bytesIn: this.body?.received ?? 0, bytesOut: this.bytesOut, ms: Math.round(ms * 100) / 100, user: this.user, aborted: this.aborted || undefined },
      'request',
    );
  }
}
