import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Logger } from '@fileshare/shared';
import uWS from 'uWebSockets.js';

export default uWS;
export type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket } from 'uWebSockets.js';

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
