import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Logger } from '@fileshare/shared';
import uWS, { type TemplatedApp, type us_listen_socket } from 'uWebSockets.js';

export default uWS;
export type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket } from 'uWebSockets.js';

/** uWS's `LIBUS_LISTEN_EXCLUSIVE_PORT` (the pure-JS fallback does not export the constant). */
const EXCLUSIVE_PORT = 1;

/**
 * Listens on host:port, alone. uWS listens with SO_REUSEPORT unless told otherwise: a second
 * server started on a port in use (a second instance, a restart before the old process is gone,
 * another program) listened as well, and the kernel split new connections between them, each
 * answering 404 for what only the other holds. Now it fails to start. Resolves the listen socket.
 */
export function listenExclusive(app: TemplatedApp, host: string, port: number): Promise<us_listen_socket> {
  // The typings lack the (host, port, options, callback) form both builds accept.
  const withOptions = app as unknown as { listen(host: string, port: number, options: number, cb: (socket: us_listen_socket | false) => void): TemplatedApp };
  return new Promise((resolve, reject) =>
    withOptions.listen(host, port, EXCLUSIVE_PORT, (socket) => (socket ? resolve(socket) : reject(new Error(`cannot listen on ${host}:${port} (in use?)`)))),
  );
}

/**
 * The uWebSockets.js republish silently falls back to a slow pure-JS server when its native
 * binary cannot load. Say loudly which one runs.
 */
export function reportUwsBuild(log: Logger): 'native' | 'fallback' {
  const require = createRequire(import.meta.url);
  const binary = join(dirname(require.resolve('uWebSockets.js')), '..', 'binaries', `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`);
  try {
    require(binary);
    log.info({ binary }, 'uWebSockets.js native binary loaded');
    return 'native';
  } catch (err) {
    log.error({ err: String(err) }, 'uWebSockets.js NATIVE BINARY NOT LOADED: running the slow pure-JS fallback');
    return 'fallback';
  }
}
