import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger, dataPaths, loadConfig } from '@fileshare/shared';
import { ensureFirstUser, firstUserNotice } from './all-in-one.js';

const CLI = fileURLToPath(new URL('../bin/fileshare.js', import.meta.url));

interface Options {
  dataDir: string;
  natsPort: number;
  redisPort: number;
  gateways: number;
  httpPort: number;
  storagePort: number;
  tokensPort: number;
  expiryPort: number;
}

function parse(args: string[]): Options {
  const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
  const o: Options = {
    dataDir: './data-cluster',
    natsPort: 4222,
    redisPort: 6379,
    gateways: 1,
    httpPort: env('FILESHARE_HTTP_PORT', 1446),
    storagePort: env('FILESHARE_STORAGE_PORT', 7001),
    tokensPort: env('FILESHARE_TOKENS_PORT', 7002),
    expiryPort: env('FILESHARE_EXPIRY_PORT', 7003),
  };
  const ports: Record<string, keyof Options> = {
    '--nats-port': 'natsPort',
    '--redis-port': 'redisPort',
    '--http-port': 'httpPort',
    '--storage-port': 'storagePort',
    '--tokens-port': 'tokensPort',
    '--expiry-port': 'expiryPort',
    '--gateways': 'gateways',
  };
  for (let i = 0; i < args.length; i += 2) {
    const [k, v] = [args[i], args[i + 1]];
    if (v === undefined) throw new Error(`${k} needs a value (see fileshare cluster --help)`);
    if (k === '--data-dir') o.dataDir = v;
    else if (k in ports) {
      const n = Number(v);
      if (!Number.isInteger(n) || n < (k === '--gateways' ? 1 : 0) || n > 65535) throw new Error(`${k}: not a valid number: ${v}`);
      (o as unknown as Record<string, number>)[ports[k]] = n;
    } else throw new Error(`unknown option ${k} (see fileshare cluster --help)`);
  }
  return o;
}

/**
 * The data plane's shared secret: FILESHARE_INTERNAL_SECRET when set, else the one generated at
 * the first start and kept in `<dataDir>/internal-secret` (0600). Without one, any local process
 * could read every blob from the storage port.
 */
function internalSecret(dataDir: string): string {
  if (process.env.FILESHARE_INTERNAL_SECRET) return process.env.FILESHARE_INTERNAL_SECRET;
  const file = join(dataDir, 'internal-secret');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const secret = randomBytes(32).toString('hex');
  writeFileSync(file, secret + '\n', { mode: 0o600 });
  return secret;
}

function findBinary(name: string): string | null {
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/local/sbin']) {
    const p = join(dir, name);
    if (spawnSync('test', ['-x', p]).status === 0) return p;
  }
  return null;
}

function waitPort(port: number, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  return new Promise((resolveP, reject) => {
    const tryOnce = () => {
      const s = createConnection(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolveP()));
      s.once('error', () => (Date.now() > until ? reject(new Error(`nothing listening on ${port}`)) : setTimeout(tryOnce, 100)));
    };
    tryOnce();
  });
}

/**
 * `fileshare cluster`: the distributed mode on one machine. Starts nats-server (JetStream) and
 * redis-server (AOF, fsync always) when installed, then storage, tokens, expiry and the
 * gateway(s) as separate processes; Ctrl-C / SIGTERM stops them all (services first).
 * Gateways listen on --http-port, --http-port+1, …; everything else on loopback.
 */
export async function runCluster(args: string[]): Promise<number> {
  let o: Options;
  try {
    o = parse(args);
  } catch (err) {
    process.stderr.write(`fileshare cluster: ${(err as Error).message}\n`);
    return 2;
  }
  const nats = findBinary('nats-server');
  const redis = findBinary('redis-server');
  if (!nats || !redis) {
    process.stderr.write(
      `fileshare cluster: needs ${[!nats && 'nats-server', !redis && 'redis-server'].filter(Boolean).join(' and ')} (Debian: apt-get install nats-server redis-server)\n`,
    );
    return 1;
  }
  const dataDir = resolve(o.dataDir);
  for (const d of ['nats', 'redis', 'logs']) mkdirSync(join(dataDir, d), { recursive: true });
  const children: { name: string; child: ChildProcess }[] = [];
  const run = (name: string, cmd: string, argv: string[], env: Record<string, string> = {}) => {
    const child = spawn(cmd, argv, { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, ...env } });
    children.push({ name, child });
    child.once('exit', (code, signal) => {
      if (!stopping) process.stderr.write(`fileshare cluster: ${name} exited (${signal ?? code})\n`);
    });
  };
  let stopping = false;
  const stopAll = async () => {
    stopping = true;
    // Services first (they drain), engines last.
    for (const group of [children.filter((c) => !['nats', 'redis'].includes(c.name)), children.filter((c) => ['nats', 'redis'].includes(c.name))]) {
      await Promise.all(
        group.map(
          ({ child }) =>
            new Promise<void>((r) => {
              if (child.exitCode !== null || child.signalCode !== null) return r();
              child.once('exit', () => r());
              child.kill('SIGTERM');
              setTimeout(() => child.kill('SIGKILL'), 20_000).unref();
            }),
        ),
      );
    }
  };

  run('nats', nats, ['-a', '127.0.0.1', '-p', String(o.natsPort), '-js', '-sd', join(dataDir, 'nats')]);
  run('redis', redis, ['--port', String(o.redisPort), '--bind', '127.0.0.1', '--dir', join(dataDir, 'redis'), '--appendonly', 'yes', '--appendfsync', 'always', '--save', '']);
  try {
    await Promise.all([waitPort(o.natsPort), waitPort(o.redisPort)]);
  } catch (err) {
    process.stderr.write(`fileshare cluster: ${(err as Error).message}\n`);
    await stopAll();
    return 1;
  }
  const env: Record<string, string> = {
    FILESHARE_BUS_KIND: 'nats',
    FILESHARE_BUS_NATS_URL: `nats://127.0.0.1:${o.natsPort}`,
    FILESHARE_STORE_KIND: 'redis',
    FILESHARE_STORE_REDIS_URL: `redis://127.0.0.1:${o.redisPort}`,
    FILESHARE_DATA_DIR: dataDir,
    FILESHARE_INTERNAL_HOST: '127.0.0.1',
    FILESHARE_INTERNAL_SECRET: internalSecret(dataDir),
    FILESHARE_STORAGE_PORT: String(o.storagePort),
    FILESHARE_STORAGE_URLS: `http://127.0.0.1:${o.storagePort}`,
    FILESHARE_TOKENS_PORT: String(o.tokensPort),
    FILESHARE_EXPIRY_PORT: String(o.expiryPort),
  };
  const cfg = loadConfig({ overrides: { dataDir } });
  const password = await ensureFirstUser(cfg, createLogger(cfg, 'cluster'), false);
  const node = process.execPath;
  run('storage', node, [CLI, 'start', 'storage'], env);
  run('tokens', node, [CLI, 'start', 'tokens'], env);
  run('expiry', node, [CLI, 'start', 'expiry'], env);
  await waitPort(o.storagePort).catch(() => undefined);
  for (let i = 0; i < o.gateways; i++) run(`gateway${i + 1}`, node, [CLI, 'start', 'gateway'], { ...env, FILESHARE_HTTP_PORT: String(o.httpPort + i) });
  await Promise.all(Array.from({ length: o.gateways }, (_, i) => waitPort(o.httpPort + i))).catch(() => undefined);
  // Last, after the services' start-up lines, so that it is not scrolled away.
  const urls = Array.from({ length: o.gateways }, (_, i) => `${cfg['http.tls.enabled'] ? 'https' : 'http'}://127.0.0.1:${o.httpPort + i}${cfg['http.basePath']}`);
  process.stderr.write(`\n  fileshare cluster: ready at ${urls.join(', ')} (data in ${dataDir})\n`);
  if (password) process.stderr.write(firstUserNotice(password, dataPaths(cfg).usersFile));

  return new Promise<number>((resolveP) => {
    const onSignal = () => void stopAll().then(() => resolveP(0));
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
}
