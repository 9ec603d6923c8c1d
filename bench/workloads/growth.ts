/**
 * Row 7: small-download p99 at P.small and at P.big records, on a clean store, random keys. Fresh
 * deployments: nothing left by the other workloads. Every seeded record points at one real 4 KiB
 * blob, so each is downloadable; wrk asks for a random sample of them, not one hot key.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startAllInOne, startDistributed } from '../../test/helpers/deploy.js';
import { FILESHARE_ENV, P, SYSTEMS, USER, WORK, expect, quick, round, say, wrkMedian, type Bench, type PerSystem } from '../context.js';
import { curl, fmt, wrk } from '../lib.js';
import { seedRedis, seedSqlite } from '../seed.js';

export interface GrowthFigures {
  /** p99 ms at P.small records. */
  few: number;
  /** p99 ms at P.big records. */
  many: number;
}

export async function growth(files: Bench['files']): Promise<PerSystem<GrowthFigures>> {
  const out = {} as PerSystem<GrowthFigures>;
  for (const name of SYSTEMS) {
    // The gateways' record cache off: this row is about the store growing. With it, the 1,000
    // records all sit in the gateway and only the 1,000,000 are read from the store (measured:
    // distributed p99 12.96 ms at 1,000 vs 19.76 ms at 1,000,000, where the store alone did 22.2).
    const env = { ...FILESHARE_ENV, FILESHARE_CACHE_RECORDS: '0' };
    const d = name === 'all-in-one' ? await startAllInOne(env) : await startDistributed({ gateways: 1, env });
    try {
      const base = d.gateways[0];
      const up = JSON.parse(expect(`${name} small upload`, await curl(['-u', USER.join(':'), '--form', `file=@${files.small}`, `${base}/uploads`]), [201]).body) as {
        id: string;
        size: number;
        sha256: string;
      };
      const blob = { key: up.id, size: up.size, sha256: up.sha256 };
      const due = () => Date.now() + 86_400_000;
      const seed = (n: number) => (name === 'all-in-one' ? seedSqlite(join(d.dataDir, 'fileshare.db'), n, due, blob) : seedRedis(d.engines.redis!.url, n, due, blob));
      const ids: string[] = [];
      const measure = async () => {
        // 2,000 ids drawn from everything seeded so far, asked for in random order.
        const sample = Array.from({ length: 2000 }, () => ids[Math.floor(Math.random() * ids.length)]);
        const lua = join(WORK, `random-get-${name}.lua`);
        const path = new URL(base).pathname;
        writeFileSync(
          lua,
          `local ids = {${sample.map((i) => `"${i}"`).join(',')}}\nfunction request() return wrk.format("GET", "${path}/uploads/" .. ids[math.random(#ids)]) end\n`,
        );
        // same warm-up before each measurement (1 s in the quick run, which must end within 90 s)
        await wrk(`${base}/uploads/${up.id}`, { connections: 64, seconds: quick ? 1 : 2, script: lua });
        return wrkMedian(`${base}/uploads/${up.id}`, { connections: 64, seconds: P.wrkSecs, script: lua });
      };
      const add = (more: string[]) => {
        for (const id of more) ids.push(id); // not push(...more): a million arguments overflow the stack
      };
      add(await seed(P.small));
      const lo = await measure();
      const t0 = Date.now();
      add(await seed(P.big - P.small));
      say(`7 ${name}: seeded ${P.big} records in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      const hi = await measure();
      out[name] = { few: round(lo.p99, 3), many: round(hi.p99, 3) };
      say(`7 ${name}: random-key p99 ${fmt(lo.p99, 3)} ms at ${P.small}, ${fmt(hi.p99, 3)} ms at ${P.big} records (clean store)`);
    } finally {
      await d.stop();
    }
  }
  return out;
}
