import { connect, createServer, type Socket } from 'node:net';

export interface LaggingLink {
  /** Where clients connect instead of the target. */
  port: number;
  close(): Promise<void>;
}

/**
 * A TCP proxy on 127.0.0.1 in front of `target` that hands the client what the target sends
 * `lagMs` late, in order (what the client sends goes through at once): a slow network path from
 * the server to one client, e.g. a process that hears NATS late.
 */
export function laggingLink(target: { host: string; port: number }, lagMs: number): Promise<LaggingLink> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(upstream);
    // Timers of one duration fire in the order they were set: the bytes keep their order.
    upstream.on('data', (chunk: Buffer) => setTimeout(() => client.destroyed || client.write(chunk), lagMs));
    upstream.on('close', () => setTimeout(() => client.destroy(), lagMs));
    client.on('close', () => upstream.destroy());
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () =>
      resolve({
        port: (server.address() as { port: number }).port,
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      }),
    );
  });
}
