import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger, loadConfig } from '@fileshare/shared';
import { ensureFirstUser } from './all-in-one.js';

const CLI = fileURLToPath(new URL('../bin/fileshare.js', import.meta.url));

interface Options {
  dataDir: string;
  natsPort: number;
  redisPort: number;
  gateways: number;
  httpPort: number;
}

function parse(args: string[]): Options {
  const o: Options = { dataDir: './data-cluster', natsPort: 4222, redisPort: 6379, gateways: 1, httpPort: Number(process.env.FILESHARE_HTTP_PORT ?? 1446) };
  for (let i = 0; i < args.length; i += 2) {
    const [k, v] = [args[i], args[i + 1]];
    if (k === '--data-dir') o.dataDir = v;
    else if (k === '--nats-port') o.natsPort = Number(v);
    else if (k === '--redis-port') o.redisPort = Number(v);
    else if (k === '--gateways') o.gateways = Number(v);
    else if (k === '--http-port') o.httpPort = Number(v);
    else throw new Error(`unknown option ${k} (options: --data-dir --nats-port --redis-port --gateways --http-port)`);
  }
  return o;
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
    process.stderr.write(`fileshare cluster: needs ${[!nats && 'nats-server', !redis && 'redis-server'].filter(Boolean).join(' and ')} (Debian: apt-get install nats-server redis-server)\n`);
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
  };
  await ensureFirstUser(loadConfig({ overrides: { dataDir } }), createLogger(loadConfig(), 'cluster'));
  const node = process.execPath;
  run('storage', node, [CLI, 'start', 'storage'], env);
  run('tokens', node, [CLI, 'start', 'tokens'], env);
  run('expiry', node, [CLI, 'start', 'expiry'], env);
  await waitPort(Number(process.env.FILESHARE_STORAGE_PORT ?? 7001)).catch(() => undefined);
  for (let i = 0; i < o.gateways; i++) run(`gateway${i + 1}`, node, [CLI, 'start', 'gateway'], { ...env, FILESHARE_HTTP_PORT: String(o.httpPort + i) });

  return new Promise<number>((resolveP) => {
    const onSignal = () => void stopAll().then(() => resolveP(0));
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
}
