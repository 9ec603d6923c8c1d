import { createBus, createStore, dataPaths, type Config, type Logger, type Running } from '@fileshare/shared';
import { startExpiry } from '@fileshare/expiry';
import { startGateway } from '@fileshare/gateway';
import { startStorage } from '@fileshare/storage';
import { startTokens } from '@fileshare/tokens';
import type { SqliteStore } from '@fileshare/shared/implementations';
import { addUser, randomPassword, readUsers } from './users.js';

/**
 * The all-in-one mode: the four services in this process on the in-process bus (unless the
 * config names NATS), SQLite and the fs backend under `dataDir`; bytes flow gateway -> storage
 * as in-process streams. Same service code as the distributed mode.
 */
export async function startAllInOne(cfg: Config, log: Logger): Promise<Running & { port: number }> {
  await ensureFirstUser(cfg, log);
  const bus = await createBus(cfg, log, 'all');
  // On the in-process bus nothing outside this process can be part of the system: the SQLite
  // file has no other writer (with NATS, standalone services might share it).
  const alone = cfg['bus.kind'] === 'local';
  const store = await createStore(cfg, log, { allInOne: alone });
  // Alone, small blobs live in the store's own file: an upload's bytes and record commit together.
  const inlineFile = alone && cfg['store.kind'] === 'sqlite' ? (store as SqliteStore).file : undefined;
  const storage = await startStorage(cfg, { bus, store, log, inlineFile }, false);
  await startTokens(cfg, { bus, store, log });
  const expiry = startExpiry(cfg, { bus, store, log });
  const gateway = await startGateway(cfg, { bus, dataPlane: storage.dataPlane, log });
  return {
    port: gateway.port,
    async stop(deadlineMs) {
      await gateway.stop(deadlineMs);
      await expiry.stop();
      await bus.close();
      await storage.stop();
      await store.close();
    },
  };
}

/**
 * First start with auth on and nobody to log in as: create `admin` with a random password and
 * print it once, to the terminal (stderr), never to the JSON log.
 */
export async function ensureFirstUser(cfg: Config, log: Logger, print = true): Promise<string | null> {
  if (!cfg['simpleUpload.authentication.enabled'] || cfg['simpleUpload.authentication.username']) return null;
  const file = dataPaths(cfg).usersFile;
  if (readUsers(file).users.length > 0) return null;
  const password = randomPassword();
  await addUser(file, 'admin', password);
  log.warn({ usersFile: file, username: 'admin' }, 'no users configured: created user "admin"; its password is printed once on stderr');
  if (print) process.stderr.write(firstUserNotice(password, file));
  return password;
}

/** The one time the first user's password is shown. */
export function firstUserNotice(password: string, file: string): string {
  return `\n  fileshare: created the first user\n    username: admin\n    password: ${password}\n  (stored hashed in ${file}; add more with "fileshare user add NAME")\n\n`;
}
