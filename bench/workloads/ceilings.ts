/**
 * Per-process ceilings for capacity planning: the distributed system under each hot workload, and
 * the CPU each process (gateway, storage, tokens, expiry, nats-server, redis-server) spent per
 * operation, from /proc/<pid>/stat before and after. CPU per operation does not depend on how
 * many cores the run had or what else shared them, unlike req/s on two shared cores: a process's
 * ceiling on a core of its own is 1 s / (CPU per operation). (Not counted: the kernel's work on
 * behalf of the client, and waiting — a process whose ceiling is far above the system's figure
 * is not what limits it.)
 */
import { readFileSync } from 'node:fs';
import { P, USER, checked, expect, idOf, quick, round, say, type Bench } from '../context.js';
import { MB, curl, fmt, wrk } from '../lib.js';
import { rawPut } from './large-transfers.js';
import { uploadScript } from './small-requests.js';
import { roundTrips, tokenLoad } from './tokens.js';

/** One process's share of one workload. */
export interface Ceiling {
  /** CPU µs the process spent per operation (per MB for the large download and upload). */
  usPerOp: number;
  /** Operations (MB) per second it could do on one core of its own; null when it did no work. */
  perCore: number | null;
}
export type CeilingFigures = Record<
  'get4k' | 'upload4k' | 'tokenRoundTrip' | 'downloadMB' | 'downloadMBThroughStorage' | 'uploadMB' | 'uploadMBThroughStorage',
  { opsPerSecond: number; processes: Record<string, Ceiling> }
>;

const TICKS_PER_SECOND = 100;
const cpuSeconds = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / TICKS_PER_SECOND;
};

export async function ceilings(b: Bench): Promise<CeilingFigures> {
  const s = b.systems.find((x) => x.name === 'distributed')!;
  const pids = new Map<string, number>();
  for (const [name, p] of s.d.procs) if (p.child.pid) pids.set(name, p.child.pid);
  if (s.d.engines.nats?.proc.child.pid) pids.set('nats-server', s.d.engines.nats.proc.child.pid);
  if (s.d.engines.redis?.proc.child.pid) pids.set('redis-server', s.d.engines.redis.proc.child.pid);
  const measure = async (work: () => Promise<{ ops: number; seconds: number }>) => {
    const before = new Map([...pids].map(([n, pid]) => [n, cpuSeconds(pid)]));
    const { ops, seconds } = await work();
    const processes: Record<string, Ceiling> = {};
    for (const [n, pid] of pids) {
      const us = ((cpuSeconds(pid) - before.get(n)!) * 1e6) / ops;
      processes[n] = { usPerOp: round(us, 1), perCore: us > 0 ? round(1e6 / us) : null };
    }
    return { opsPerSecond: round(ops / seconds), processes };
  };
  const secs = quick ? 1 : Math.round(P.wrkSecs / 2);
  const wrkOps = async (url: string, script?: string) => {
    const w = checked(url, await wrk(url, { connections: 64, seconds: secs, script }));
    return { ops: w.requests, seconds: secs };
  };

  const small = idOf(expect('ceilings small upload', await curl(['-u', USER.join(':'), '--form', `file=@${b.files.small}`, `${s.base}/uploads`]), [201]).body);
  const big = idOf(expect('ceilings large upload', await curl(['-u', USER.join(':'), '--form', `file=@${b.files.big}`, `${s.base}/uploads`]), [201]).body);
  const tokens = await tokenLoad(s);
  if (!quick) await wrk(`${s.base}/uploads/${small}`, { connections: 64, seconds: 1 }); // warm
  const download = async (base: string) => {
    const r = expect('ceilings large download', await curl(['-o', '/dev/null', `${base}/uploads/${big}`]), [200]);
    return { ops: P.large / MB, seconds: r.seconds };
  };
  const upload = async (base: string) => ({ ops: P.large / MB, seconds: (await rawPut(base, b.files.big, 'ceilings large upload')).seconds });
  const out: CeilingFigures = {
    get4k: await measure(() => wrkOps(`${s.base}/uploads/${small}`)),
    upload4k: await measure(() => wrkOps(`${s.base}/uploads`, uploadScript())),
    tokenRoundTrip: await measure(async () => ({ ops: (await roundTrips(tokens, secs, 'ceilings token round trip')).count, seconds: secs })),
    downloadMB: await measure(() => download(s.base)),
    // The second gateway does not read the blobs' volume: every byte crosses storage.
    downloadMBThroughStorage: await measure(() => download(s.d.gateways[1])),
    // A raw PUT: written onto the volume by the first gateway, through storage by the second.
    uploadMB: await measure(() => upload(s.base)),
    uploadMBThroughStorage: await measure(() => upload(s.d.gateways[1])),
  };
  for (const [w, f] of Object.entries(out))
    say(
      `ceilings ${w}: ${fmt(f.opsPerSecond)}/s together; per core: ${Object.entries(f.processes)
        .map(([n, c]) => `${n} ${c.perCore === null ? '-' : fmt(c.perCore, 0)} (${fmt(c.usPerOp)} µs)`)
        .join(', ')}`,
    );
  return out;
}
