/** Context (no target): one expiry sweep, P.sweepDue due among P.sweepLive live, on both stores; median of runs. */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ExpiryService } from '@fileshare/expiry';
import { LocalBus, createLogger } from '@fileshare/shared';
import { RedisStore, SqliteStore } from '@fileshare/shared/implementations';
import { FsBlobStore, serveStorage } from '@fileshare/storage';
import { startRedis } from '../../test/helpers/engines.js';
import { P, WORK, round, say } from '../context.js';
import { median } from '../lib.js';
import { seedRedis, seedSqlite } from '../seed.js';

export interface SweepFigures {
  seconds: number;
  read: number;
  deleted: number;
}

const log = createLogger({ 'log.level': 'silent' }, 'bench');

export async function expirySweeps(): Promise<Record<'sqlite' | 'redis', SweepFigures>> {
  const out = {} as Record<'sqlite' | 'redis', SweepFigures>;
  for (const kind of ['sqlite', 'redis'] as const) {
    const runs: SweepFigures[] = [];
    for (let run = 0; run < P.runs; run++) {
      const dir = join(WORK, `sweep-${kind}-${run}`);
      mkdirSync(dir, { recursive: true });
      const redis = kind === 'redis' ? await startRedis(dir) : undefined;
      const seed = (n: number, due: () => number) => (kind === 'sqlite' ? seedSqlite(join(dir, 'db.sqlite'), n, due) : seedRedis(redis!.url, n, due));
      await seed(P.sweepLive, () => Date.now() + 86_400_000);
      await seed(P.sweepDue, () => Date.now() - 1000);
      const store = kind === 'sqlite' ? new SqliteStore(join(dir, 'db.sqlite')) : await RedisStore.connect(redis!.url, log);
      const blobs = new FsBlobStore(dir);
      await blobs.init();
      const bus = new LocalBus(log);
      serveStorage(store, blobs, bus, log, { tombstoneTtl: 604800, orphanGrace: 3600, incompleteTtl: 86400 });
      const expiry = new ExpiryService(store, bus, log, { intervalMs: 3_600_000, leaseMs: 300_000, batch: 500 });
      const t0 = performance.now();
      const r = await expiry.sweep();
      runs.push({ seconds: (performance.now() - t0) / 1000, read: r.claimed, deleted: r.deleted });
      await bus.close();
      await store.close();
      await redis?.proc.stop();
      rmSync(dir, { recursive: true, force: true });
    }
    out[kind] = { seconds: round(median(runs.map((r) => r.seconds)), 3), read: Math.max(...runs.map((r) => r.read)), deleted: Math.min(...runs.map((r) => r.deleted)) };
    say(`7 sweep ${kind}: ${runs.map((r) => `${r.read} read, ${r.deleted} deleted in ${r.seconds.toFixed(2)} s`).join('; ')} (${P.sweepLive} live untouched)`);
  }
  return out;
}
