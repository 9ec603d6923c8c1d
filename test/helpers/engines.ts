import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, waitForPort } from './ports.js';
import { Proc } from './proc.js';

/** A real nats-server with JetStream on a free port, its store in a temp dir. */
export async function startNats(dir = mkdtempSync(join(tmpdir(), 'fs-nats-'))): Promise<{ url: string; port: number; proc: Proc; restart(): Promise<void>; dir: string }> {
  const port = await freePort();
  const args = ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir];
  let proc = new Proc('nats', 'nats-server', args, join(dir, 'nats.log'));
  await waitForPort(port);
  const self = {
    url: `nats://127.0.0.1:${port}`,
    port,
    proc,
    dir,
    async restart() {
      await self.proc.stop();
      self.proc = proc = new Proc('nats', 'nats-server', args, join(dir, 'nats.log'));
      await waitForPort(port);
    },
  };
  return self;
}

/** A real redis-server on a free port; AOF with fsync always, so a restart loses nothing. */
export async function startRedis(dir = mkdtempSync(join(tmpdir(), 'fs-redis-'))): Promise<{ url: string; port: number; proc: Proc; restart(): Promise<void> }> {
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--protected-mode', 'no'];
  let proc = new Proc('redis', 'redis-server', args, join(dir, 'redis.log'));
  await waitForPort(port);
  const self = {
    url: `redis://127.0.0.1:${port}`,
    port,
    proc,
    async restart() {
      await self.proc.stop();
      self.proc = proc = new Proc('redis', 'redis-server', args, join(dir, 'redis.log'));
      await waitForPort(port);
    },
  };
  return self;
}

/** A real S3-compatible server (s3rver, its own process) on a free port with one bucket. */
export async function startS3(bucket = 'fileshare-test'): Promise<{ endpoint: string; bucket: string; dir: string; proc: Proc }> {
  const dir = mkdtempSync(join(tmpdir(), 'fs-s3-'));
  const port = await freePort();
  const bin = fileURLToPath(new URL('../../node_modules/s3rver/bin/s3rver.js', import.meta.url));
  const proc = new Proc('s3rver', process.execPath, [bin, '-d', dir, '-a', '127.0.0.1', '-p', String(port), '-s', '--configure-bucket', bucket], join(dir, 's3rver.log'));
  await waitForPort(port);
  return { endpoint: `http://127.0.0.1:${port}`, bucket, dir, proc };
}

/** AWS credentials for s3rver (it accepts S3RVER/S3RVER). */
export const S3_ENV = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' };
