import type { Logger } from 'pino';
import type { Bus } from './bus/bus.js';
import { instrumented } from './bus/instrumented.js';
import { LocalBus } from './bus/local.js';
import type { Config } from './config.js';
import { dataPaths } from './paths.js';
import type { Store } from './store/store.js';

/** The bus the config names. `local` only makes sense when all services share this process. */
export async function createBus(cfg: Config, log: Logger, service: string): Promise<Bus> {
  if (cfg['bus.kind'] === 'local') return instrumented(new LocalBus(log));
  const { NatsBus } = await import('./bus/nats.js');
  return instrumented(await NatsBus.connect({ servers: cfg['bus.natsUrl'], name: `fileshare-${service}`, requestTimeout: cfg['bus.requestTimeout'], log }));
}

/**
 * The store the config names. `allInOne`: every service of the system shares this one store
 * object, so a SQLite file has no other writer and may keep recent records in memory.
 */
export async function createStore(cfg: Config, log: Logger, opts: { allInOne?: boolean } = {}): Promise<Store> {
  // Drivers load only when named: a Redis deployment never maps better-sqlite3, and so on.
  if (cfg['store.kind'] === 'redis') return (await import('./store/redis.js')).RedisStore.connect(cfg['store.redisUrl'], log);
  const { SqliteStore } = await import('./store/sqlite.js');
  return new SqliteStore(dataPaths(cfg).sqlite, { soleWriter: opts.allInOne });
}

/** A service started on its own must reach the others: the in-process bus cannot. */
export function requireNetworkBus(cfg: Config, service: string): void {
  if (cfg['bus.kind'] === 'local')
    throw new Error(
      `a standalone ${service} needs bus.kind=nats (FILESHARE_BUS_KIND=nats); the local bus only works when every service runs in one process ("fileshare start all")`,
    );
}
