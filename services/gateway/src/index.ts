import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { COMMANDS, dataPaths, type Bus, type Config, type DataPlane, type Logger, type ReadyCheck } from '@fileshare/shared';
import { mountRoutes } from './app.js';
import { Authenticator } from './auth/authenticator.js';
import type { GatewayContext } from './context.js';
import { BlobCache } from './cache/blob-cache.js';
import { UploadRecordCache } from './cache/upload-records.js';
import { Downloads } from './http/download.js';
import { PublicUrls } from './http/public-url.js';
import { UploadSlots } from './http/upload-slots.js';
import { TLS_CIPHERS, ensureTls } from './tls.js';
import uWS, { listenExclusive, reportUwsBuild } from './uws.js';

export { Authenticator, parseBasic } from './auth/authenticator.js';

/** The OpenAPI document served at /openapi.json (docs/openapi.json in the repo). */
export const OPENAPI_FILE = fileURLToPath(new URL('../../../docs/openapi.json', import.meta.url));

export interface RunningGateway {
  port: number;
  tls: boolean;
  /** Stop accepting, let in-flight requests finish within `deadlineMs`, then cut the rest. */
  stop(deadlineMs: number): Promise<void>;
}

/**
 * Start the HTTP(S) gateway on a bus and data plane owned by the caller. Readiness checks the
 * bus, the storage and tokens services (through the bus) and the data plane.
 */
export async function startGateway(cfg: Config, deps: { bus: Bus; dataPlane: DataPlane; log: Logger }): Promise<RunningGateway> {
  const { bus, dataPlane, log } = deps;
  reportUwsBuild(log);
  const paths = dataPaths(cfg);
  const auth = new Authenticator(
    {
      enabled: cfg['simpleUpload.authentication.enabled'],
      usersFile: paths.usersFile,
      fixedUser: cfg['simpleUpload.authentication.username']
        ? { username: cfg['simpleUpload.authentication.username'], password: cfg['simpleUpload.authentication.password'] }
        : undefined,
      cacheTtl: cfg['auth.cacheTtl'],
      maxFailures: cfg['auth.maxFailures'],
      failureWindow: cfg['auth.failureWindow'],
      hashThreads: cfg['auth.hashThreads'],
      hashQueue: cfg['auth.hashQueue'],
    },
    log,
  );
  await auth.init();

  const tls = cfg['http.tls.enabled'];
  let app;
  if (tls) {
    await ensureTls(paths.tlsKey, paths.tlsCert, !!(cfg['http.tls.keyFile'] || cfg['http.tls.certFile']), log);
    app = uWS.SSLApp({ key_file_name: paths.tlsKey, cert_file_name: paths.tlsCert, ssl_ciphers: TLS_CIPHERS });
  } else app = uWS.App();

  const uploadRecords = new UploadRecordCache(bus, cfg['cache.records'], cfg['cache.recordMaxAge'] * 1000);
  await uploadRecords.start();
  const ctx: GatewayContext = {
    cfg,
    bus,
    dataPlane,
    log,
    uploadRecords,
    downloads: new Downloads(dataPlane, new BlobCache(cfg['cache.maxBytes'], cfg['cache.maxItemBytes'])),
    urls: new PublicUrls(cfg, tls),
    uploadSlots: new UploadSlots(cfg['limits.maxUploadsPerUser']),
    multipartLimits: { maxFields: cfg['limits.maxFields'], maxFieldSize: cfg['limits.maxFieldSize'], maxNameLength: cfg['limits.maxNameLength'] },
  };
  const checks: Record<string, ReadyCheck> = {
    bus: () => bus.ping(),
    storage: async () => void (await bus.request(COMMANDS.storagePing, {}, 2000)),
    tokens: async () => void (await bus.request(COMMANDS.tokensPing, {}, 2000)),
    dataPlane: () => dataPlane.ping(),
  };
  let openapi: string | undefined;
  const served = mountRoutes(app, ctx, auth, checks, () => (openapi ??= existsSync(OPENAPI_FILE) ? readFileSync(OPENAPI_FILE, 'utf8') : '{}'));

  const listenSocket = await listenExclusive(app, cfg['http.host'], cfg['http.port']);
  const port = uWS.us_socket_local_port(listenSocket);
  log.info({ port, tls, basePath: cfg['http.basePath'] }, `gateway listening on ${tls ? 'https' : 'http'}://${cfg['http.host']}:${port}${cfg['http.basePath']}`);

  return {
    port,
    tls,
    async stop(deadlineMs: number) {
      uWS.us_listen_socket_close(listenSocket);
      const until = Date.now() + deadlineMs;
      while (served.inFlight.size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
      for (const ex of served.inFlight) if (ex.open) ex.cork(() => ex.res.close());
      if (served.inFlight.size) log.warn({ cut: served.inFlight.size }, 'shutdown deadline passed; closed in-flight requests');
      await auth.close();
    },
  };
}
