import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Ports handed out in this test run, one file each, shared by the run's worker processes (ava
 * runs each test file in a child of one process). A suite that restarts a server on its port
 * must find it free: another suite given the same port meanwhile would take it (the OS hands a
 * released port out again), and the restarted server would fail to listen.
 */
const TAKEN = join(tmpdir(), `fs-test-ports-${process.ppid}`);
mkdirSync(TAKEN, { recursive: true });

/** A TCP port free on 127.0.0.1 right now (the OS picks it), never handed out before in this run. */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await osPort();
    try {
      writeFileSync(join(TAKEN, String(port)), '', { flag: 'wx' });
      return port;
    } catch {
      // handed out already in this run: another one
    }
  }
}

function osPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** Resolve once something accepts TCP connections on the port. */
export async function waitForPort(port: number, timeoutMs = 15_000): Promise<void> {
  const { connect } = await import('node:net');
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const ok = await new Promise<boolean>((r) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), r(true)));
      s.once('error', () => r(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listening on ${port} after ${timeoutMs} ms`);
}
