import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from './tmp.js';
import { freePort, waitForPort } from './ports.js';
import { Proc } from './proc.js';

export interface Engine {
  url: string;
  port: number;
  proc: Proc;
  /** Stop it (SIGTERM) and start it again on the same port and data. */
  restart(): Promise<void>;
  /** SIGKILL it (nothing flushed on the way out) and start it again on the same port and data. */
  crash(): Promise<void>;
}

/** A server process on a free port that can be restarted in place. */
async function engine(name: string, cmd: string, args: (port: number) => string[], dir: string, scheme: string): Promise<Engine> {
  const port = await freePort();
  const launch = () => new Proc(name, cmd, args(port), join(dir, `${name}.log`));
  const self: Engine = {
    url: `${scheme}://127.0.0.1:${port}`,
    port,
    proc: launch(),
    async restart() {
      await self.proc.stop();
      self.proc = launch();
      await waitForPort(port);
    },
    async crash() {
      await self.proc.kill();
      self.proc = launch();
      await waitForPort(port);
    },
  };
  await waitForPort(port);
  return self;
}

/** A real nats-server with JetStream on a free port, its store in a temp dir. */
export function startNats(dir = tempDir('fs-nats-')): Promise<Engine> {
  return engine('nats', 'nats-server', (port) => ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir], dir, 'nats');
}

/** A real redis-server on a free port; AOF with fsync always, so a restart loses nothing. */
export function startRedis(dir = tempDir('fs-redis-')): Promise<Engine> {
  return engine(
    'redis',
    'redis-server',
    (port) => ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--protected-mode', 'no'],
    dir,
    'redis',
  );
}

/** A real S3-compatible server (s3rver, its own process) on a free port with one bucket. */
export async function startS3(bucket = 'fileshare-test'): Promise<{ endpoint: string; bucket: string; dir: string; proc: Proc }> {
  const dir = tempDir('fs-s3-');
  const port = await freePort();
  const bin = fileURLToPath(new URL('../../node_modules/s3rver/bin/s3rver.js', import.meta.url));
  const proc = new Proc('s3rver', process.execPath, [bin, '-d', dir, '-a', '127.0.0.1', '-p', String(port), '-s', '--configure-bucket', bucket], join(dir, 's3rver.log'));
  await waitForPort(port);
  return { endpoint: `http://127.0.0.1:${port}`, bucket, dir, proc };
}

/** AWS credentials for s3rver (it accepts S3RVER/S3RVER). */
export const S3_ENV = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' };

/** `CONFIG GET key` from a redis-server on 127.0.0.1:port, over its own protocol (no client library). */
export async function redisConfig(port: number, key: string): Promise<string> {
  const { connect } = await import('node:net');
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let buf = '';
    s.on('data', (d: Buffer) => {
      buf += d.toString();
      // *2\r\n$<n>\r\n<key>\r\n$<m>\r\n<value>\r\n
      const parts = buf.split('\r\n');
      if (parts.length >= 6) {
        s.destroy();
        resolve(parts[4]);
      }
    });
    s.on('error', reject);
    s.write(`*3\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n$${key.length}\r\n${key}\r\n`);
  });
}
