import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeUsersFile } from './fixtures.js';
import { S3_ENV, startNats, startRedis, startS3 } from './engines.js';
import { http } from './http.js';
import { tempDir } from './tmp.js';
import { freePort } from './ports.js';
import { laggingLink } from './lagging-link.js';
import { Proc } from './proc.js';

export const CLI = fileURLToPath(new URL('../../cli/bin/fileshare.js', import.meta.url));
export const USER: [string, string] = ['foo', 'bar'];
export const BASE_PATH = '/rtc/fileshare';

/** A running fileshare, whatever its shape: what end-to-end suites talk to. */
export interface Deployment {
  kind: 'all-in-one' | 'distributed';
  /** API bases, one per gateway: `https://127.0.0.1:<port>/rtc/fileshare`. */
  gateways: string[];
  /** Gateway roots (operational endpoints). */
  roots: string[];
  dataDir: string;
  user: [string, string];
  procs: Map<string, Proc>;
  engines: { nats?: Awaited<ReturnType<typeof startNats>>; redis?: Awaited<ReturnType<typeof startRedis>>; s3?: Awaited<ReturnType<typeof startS3>> };
  /** Every fileshare process's output so far. */
  logs(): string;
  /**
   * SIGKILL every fileshare process, and with `engines` nats-server and redis-server too (what
   * they acknowledged must survive as well), start them again, wait until ready.
   */
  crashAndRestart(opts?: { engines?: boolean }): Promise<void>;
  /** Start (again) one process by name. */
  restart(name: string): Promise<void>;
  stop(): Promise<void>;
}

const common = (dataDir: string) => ({
  FILESHARE_DATA_DIR: dataDir,
  FILESHARE_SIMPLE_UPLOAD_AUTHENTICATION_USERNAME: USER[0],
  FILESHARE_SIMPLE_UPLOAD_AUTHENTICATION_PASSWORD: USER[1],
  FILESHARE_EXPIRY_INTERVAL: '1',
  FILESHARE_LOG_LEVEL: 'info',
  FILESHARE_CONFIG: '',
});

async function waitReady(url: string, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < until) {
    try {
      const r = await http(url);
      if (r.status === 200) return;
      last = `${r.status} ${r.text}`;
    } catch (err) {
      last = String(err);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`not ready: ${url}: ${last}`);
}

type Spec = { name: string; args: string[]; env: Record<string, string>; ready: string };

function deployment(
  kind: Deployment['kind'],
  dataDir: string,
  specs: Spec[],
  gateways: string[],
  roots: string[],
  engines: Deployment['engines'],
  closeLinks: () => Promise<unknown> = async () => undefined,
): Deployment {
  const procs = new Map<string, Proc>();
  const logDir = join(dataDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  // FILESHARE_NODE_ARGS: extra node flags for every fileshare process (e.g. --cpu-prof when profiling).
  const nodeArgs = process.env.FILESHARE_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const launch = (s: Spec) => procs.set(s.name, new Proc(s.name, process.execPath, [...nodeArgs, CLI, ...s.args], join(logDir, `${s.name}.log`), s.env));
  const d: Deployment = {
    kind,
    gateways,
    roots,
    dataDir,
    user: USER,
    procs,
    engines,
    logs: () => [...procs.values()].map((p) => p.log()).join('\n'),
    async crashAndRestart(opts = {}) {
      const crashed = [engines.nats, engines.redis].filter((e) => opts.engines && e);
      await Promise.all([...procs.values()].map((p) => p.kill()));
      await Promise.all(crashed.map((e) => e!.crash()));
      for (const s of specs) launch(s);
      await Promise.all(specs.map((s) => waitReady(s.ready)));
    },
    async restart(name) {
      const s = specs.find((x) => x.name === name)!;
      await procs.get(name)?.stop();
      launch(s);
      await waitReady(s.ready);
    },
    async stop() {
      await Promise.all([...procs.values()].map((p) => p.stop()));
      await Promise.all([engines.nats?.proc.stop(), engines.redis?.proc.stop(), engines.s3?.proc.stop(), closeLinks()]);
    },
  };
  for (const s of specs) launch(s);
  return d;
}

/** `fileshare start all` (the embedded default: HTTPS, SQLite, fs) in a temp data dir. */
export async function startAllInOne(env: Record<string, string> = {}): Promise<Deployment> {
  const dataDir = tempDir('fs-aio-');
  await writeUsersFile(dataDir);
  const port = await freePort();
  const scheme = env.FILESHARE_HTTP_TLS_ENABLED === 'false' ? 'http' : 'https';
  const root = `${scheme}://127.0.0.1:${port}`;
  const spec: Spec = {
    name: 'all',
    args: ['start', 'all'],
    env: { ...common(dataDir), FILESHARE_HTTP_PORT: String(port), FILESHARE_HTTP_HOST: '127.0.0.1', ...env },
    ready: `${root}/readyz`,
  };
  const d = deployment('all-in-one', dataDir, [spec], [root + BASE_PATH], [root], {});
  await waitReady(spec.ready);
  return d;
}

export interface DistributedOptions {
  gateways?: number;
  storages?: number;
  tokens?: number;
  expiries?: number;
  blob?: 'fs' | 's3';
  env?: Record<string, string>;
  /** More environment for single processes, by name (e.g. `gateway2`). */
  processEnv?: Record<string, Record<string, string>>;
  /** Processes (by name, e.g. `gateway2`) that hear NATS this many ms late (laggingLink). */
  natsLagMs?: Record<string, number>;
}

/**
 * A local distributed deployment: a real nats-server (JetStream) and redis-server on free ports,
 * optionally s3rver, and every service as its own `fileshare start <service>` process.
 * Gateways speak plain HTTP here (the all-in-one suites cover HTTPS).
 */
export async function startDistributed(o: DistributedOptions = {}): Promise<Deployment> {
  const dataDir = tempDir('fs-dist-');
  await writeUsersFile(dataDir);
  const [nats, redis, s3] = await Promise.all([startNats(), startRedis(), o.blob === 's3' ? startS3() : Promise.resolve(undefined)]);
  const base: Record<string, string> = {
    ...common(dataDir),
    FILESHARE_BUS_KIND: 'nats',
    FILESHARE_BUS_NATS_URL: nats.url,
    FILESHARE_STORE_KIND: 'redis',
    FILESHARE_STORE_REDIS_URL: redis.url,
    FILESHARE_INTERNAL_SECRET: 'test-internal-secret',
    FILESHARE_HTTP_TLS_ENABLED: 'false',
    FILESHARE_INTERNAL_HOST: '127.0.0.1',
    ...(s3 ? { ...S3_ENV, FILESHARE_BLOB_KIND: 's3', FILESHARE_BLOB_S3_ENDPOINT: s3.endpoint, FILESHARE_BLOB_S3_BUCKET: s3.bucket } : {}),
    ...o.env,
  };
  const specs: Spec[] = [];
  const storagePorts = await Promise.all(Array.from({ length: o.storages ?? 1 }, () => freePort()));
  base.FILESHARE_STORAGE_URLS = storagePorts.map((p) => `http://127.0.0.1:${p}`).join(',');
  storagePorts.forEach((port, i) =>
    specs.push({ name: `storage${i + 1}`, args: ['start', 'storage'], env: { ...base, FILESHARE_STORAGE_PORT: String(port) }, ready: `http://127.0.0.1:${port}/readyz` }),
  );
  for (let i = 0; i < (o.tokens ?? 1); i++) {
    const port = await freePort();
    specs.push({ name: `tokens${i + 1}`, args: ['start', 'tokens'], env: { ...base, FILESHARE_TOKENS_PORT: String(port) }, ready: `http://127.0.0.1:${port}/readyz` });
  }
  for (let i = 0; i < (o.expiries ?? 1); i++) {
    const port = await freePort();
    specs.push({ name: `expiry${i + 1}`, args: ['start', 'expiry'], env: { ...base, FILESHARE_EXPIRY_PORT: String(port) }, ready: `http://127.0.0.1:${port}/readyz` });
  }
  const roots: string[] = [];
  // Plain HTTP unless the caller's env turns TLS on (the benchmark's HTTPS rows).
  const scheme = base.FILESHARE_HTTP_TLS_ENABLED === 'false' ? 'http' : 'https';
  for (let i = 0; i < (o.gateways ?? 2); i++) {
    const port = await freePort();
    roots.push(`${scheme}://127.0.0.1:${port}`);
    specs.push({
      name: `gateway${i + 1}`,
      args: ['start', 'gateway'],
      env: { ...base, FILESHARE_HTTP_PORT: String(port), FILESHARE_HTTP_HOST: '127.0.0.1' },
      ready: `${scheme}://127.0.0.1:${port}/readyz`,
    });
  }
  for (const [name, env] of Object.entries(o.processEnv ?? {})) {
    const spec = specs.find((s) => s.name === name);
    if (!spec) throw new Error(`processEnv: no process named ${name}`);
    spec.env = { ...spec.env, ...env };
  }
  const links = await Promise.all(
    Object.entries(o.natsLagMs ?? {}).map(async ([name, lagMs]) => {
      const spec = specs.find((s) => s.name === name);
      if (!spec) throw new Error(`natsLagMs: no process named ${name}`);
      const link = await laggingLink({ host: '127.0.0.1', port: nats.port }, lagMs);
      spec.env = { ...spec.env, FILESHARE_BUS_NATS_URL: `nats://127.0.0.1:${link.port}` };
      return link;
    }),
  );
  const d = deployment(
    'distributed',
    dataDir,
    specs,
    roots.map((r) => r + BASE_PATH),
    roots,
    { nats, redis, s3 },
    () => Promise.all(links.map((l) => l.close())),
  );
  try {
    await Promise.all(specs.map((s) => waitReady(s.ready)));
  } catch (err) {
    const logs = d.logs();
    await d.stop();
    throw new Error(`${(err as Error).message}\n${logs.slice(-4000)}`);
  }
  return d;
}
