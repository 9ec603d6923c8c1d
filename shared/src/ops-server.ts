import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { registry } from './metrics.js';

/** A readiness check: resolves when the dependency is usable. */
export type ReadyCheck = () => Promise<void>;

/** Runs every check; reports which failed. */
export async function checkReady(checks: Record<string, ReadyCheck>): Promise<{ ok: boolean; checks: Record<string, string> }> {
  const names = Object.keys(checks);
  const results = await Promise.allSettled(names.map((n) => withTimeout(checks[n](), 2000)));
  const out: Record<string, string> = {};
  results.forEach((r, i) => (out[names[i]] = r.status === 'fulfilled' ? 'ok' : 'failing'));
  return { ok: results.every((r) => r.status === 'fulfilled'), checks: out };
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return Promise.race([p, new Promise<T>((_, rej) => setTimeout(() => rej(new Error('timeout')), ms).unref())]);
}

/**
 * The operational endpoints of a standalone service process: /healthz (alive), /readyz
 * (dependencies reachable), /metrics (Prometheus). `fallback` serves anything else (the storage
 * data plane), or 404.
 */
export function startOpsServer(opts: {
  host: string;
  port: number;
  checks: Record<string, ReadyCheck>;
  fallback?: (req: IncomingMessage, res: ServerResponse) => void;
}): Promise<Server> {
  const server = createServer({ keepAliveTimeout: 65_000, requestTimeout: 0 }, (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/healthz') return json(res, 200, { status: 'ok' });
    if (req.method === 'GET' && path === '/readyz') {
      void checkReady(opts.checks).then((r) => json(res, r.ok ? 200 : 503, { status: r.ok ? 'ready' : 'not ready', checks: r.checks }));
      return;
    }
    if (req.method === 'GET' && path === '/metrics') {
      void registry.metrics().then((text) => {
        res.writeHead(200, { 'content-type': registry.contentType });
        res.end(text);
      });
      return;
    }
    if (opts.fallback) return opts.fallback(req, res);
    json(res, 404, { message: 'not found', code: 'not_found' });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve(server));
  });
}

export function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function portOf(server: Server): number {
  return (server.address() as AddressInfo).port;
}
