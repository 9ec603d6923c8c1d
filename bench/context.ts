/**
 * What every workload of the benchmark shares: parameters (quick or full), the systems under test
 * and the references, scratch files, and the checks that make a figure trustworthy (a load run
 * with errors, or a reference that answered wrongly, stops the benchmark).
 */
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Deployment } from '../test/helpers/deploy.js';
import { basic } from '../test/helpers/http.js';
import { rss } from '../test/helpers/rss.js';
import { MB, median, wrk } from './lib.js';

export const quick = process.argv.includes('--quick');
export const P = quick
  ? { large: 64 * MB, runs: 1, wrkSecs: 1, memN: 10, memSize: 5 * MB, small: 1_000, big: 20_000, sweepDue: 1_000, sweepLive: 20_000 }
  : { large: 900 * MB, runs: 3, wrkSecs: 10, memN: 100, memSize: 50 * MB, small: 1_000, big: 1_000_000, sweepDue: 10_000, sweepLive: 1_000_000 };
export type Params = typeof P;

export const HERE = fileURLToPath(new URL('.', import.meta.url));
export const WORK = join(HERE, 'work');
export const USER: [string, string] = ['foo', 'bar'];
export const AUTH = basic(...USER);
/** Plain HTTP like the references (TLS would cost every system the same). */
export const FILESHARE_ENV = {
  FILESHARE_HTTP_TLS_ENABLED: 'false',
  FILESHARE_EXPIRY_INTERVAL: '60',
  FILESHARE_AUTH_CACHE_TTL: '600',
  FILESHARE_LIMITS_MAX_UPLOADS_PER_USER: '256',
};
export const say = (s: string) => process.stderr.write(s + '\n');
export const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;

export type SystemName = 'all-in-one' | 'distributed';
export const SYSTEMS: SystemName[] = ['all-in-one', 'distributed'];
export interface System {
  name: SystemName;
  d: Deployment;
  /** The API base URL (`http://127.0.0.1:<port>/rtc/fileshare`). */
  base: string;
}
/** A figure per system under test. */
export type PerSystem<T> = Record<SystemName, T>;

/** The running systems and references a workload measures. */
export interface Bench {
  systems: System[];
  nginx: { url: string; www: string };
  node: { url: string };
  /** `remove(url)`: deletes that upload's files (@tus/file-store keeps `<id>` and `<id>.json`). */
  tus: { url: string; remove(uploadUrl: string): void; restart(): Promise<void> };
  /** The benchmark's certificate, and the references serving it: nginx (same server) and Node `https`. */
  tls: { key: string; cert: string; nginxUrl: string; nodeUrl: string };
  files: { big: string; small: string; mid: string };
}

/** Reference tools the benchmark needs; it never installs them (say what is missing and exit). */
export function requireTools(tools: string[]): void {
  const missing = tools.filter((t) => {
    try {
      execFileSync('sh', ['-c', `command -v ${t} || test -x /usr/sbin/${t}`], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length) {
    say(`bench: missing reference tools: ${missing.join(', ')}. Install them (Debian: apt-get install -y ${missing.join(' ')}) and run again.`);
    process.exit(2);
  }
}

export function makeFile(path: string, size: number): void {
  const block = randomBytes(1024 * 1024);
  const fd = openSync(path, 'w');
  for (let left = size; left > 0; left -= block.length) writeSync(fd, block, 0, Math.min(block.length, left));
  closeSync(fd);
}

/** A load run that had errors (non-2xx answers, socket errors) measured something else: stop. */
export function checked<T extends { errors: number }>(what: string, r: T): T {
  if (r.errors > 0) throw new Error(`bench: ${what}: ${r.errors} errors (non-2xx or socket errors); its figures would be meaningless`);
  return r;
}

/** A curl transfer that must have answered one of `ok`: references are checked like fileshare. */
export function expect<T extends { status: number; body: string }>(what: string, r: T, ok: number[]): T {
  if (!ok.includes(r.status)) throw new Error(`bench: ${what} answered ${r.status}: ${r.body.slice(0, 200)}`);
  return r;
}

/** The `id` of a JSON answer (an upload, a session, a file). */
export function idOf(body: string): string {
  const v = JSON.parse(body) as { id?: unknown };
  if (typeof v.id !== 'string') throw new Error(`bench: no id in ${body.slice(0, 200)}`);
  return v.id;
}

/** One wrk load: where, and wrk's options. */
export interface WrkLoad {
  url: string;
  opts: Parameters<typeof wrk>[1];
}

/** wrk run P.runs times: median req/s and median p99 (a single 10 s p99 on 2 cores is noise). */
export async function wrkMedian(url: string, opts: Parameters<typeof wrk>[1]): Promise<{ rps: number; p99: number }> {
  return (await wrkAlternating({ [url]: { url, opts } }))[url];
}

/**
 * Measurements of fileshare and the references it is compared with, taken in turn: P.runs rounds,
 * each measurement once per round, in the order given; every figure of each, in round order. A
 * ratio's two sides then come from the same minutes: on this VM a figure moves ±30 % between
 * minutes, and measured one after the other, P.runs times each, they were minutes apart.
 */
export async function inTurn<K extends string, T>(measure: Record<K, (round: number) => Promise<T>>): Promise<Record<K, T[]>> {
  const keys = Object.keys(measure) as K[];
  const out = Object.fromEntries(keys.map((k) => [k, [] as T[]])) as Record<K, T[]>;
  for (let i = 0; i < P.runs; i++)
    for (const k of keys) {
      // Nothing left to write back from the measurement before: nginx's WebDAV PUT and
      // @tus/server do not fsync, and their 900 MB would be flushed during whatever runs next.
      execFileSync('sync');
      const x = await measure[k](i);
      // Every figure in the log, so that a median's spread can be seen.
      const figure = typeof x === 'number' ? x : (x as { rps?: unknown }).rps;
      if (typeof figure === 'number') say(`  ${k}, round ${i + 1}: ${round(figure)}`);
      out[k].push(x);
    }
  return out;
}

/** The median req/s and the median p99 of several runs of one load. */
export const medianRate = (runs: { rps: number; p99: number }[]) => ({ rps: median(runs.map((r) => r.rps)), p99: median(runs.map((r) => r.p99)) });

/** Several wrk loads measured in turn (`inTurn`): the median req/s and p99 of each. */
export async function wrkAlternating<K extends string>(loads: Record<K, WrkLoad>): Promise<Record<K, { rps: number; p99: number }>> {
  const keys = Object.keys(loads) as K[];
  // One uncounted second first, for every server alike: a JIT-compiled server's first requests
  // (and its caches' first fills) are not what it serves at when warm. (Not in the quick run: it
  // must stay under 90 s.)
  if (!quick) for (const k of keys) await wrk(loads[k].url, { ...loads[k].opts, seconds: 1 });
  const runs = await inTurn(
    Object.fromEntries(keys.map((k) => [k, async () => checked(loads[k].url, await wrk(loads[k].url, loads[k].opts))])) as Record<K, () => ReturnType<typeof wrk>>,
  );
  const out = {} as Record<K, { rps: number; p99: number }>;
  for (const k of keys) out[k] = medianRate(runs[k]);
  return out;
}

/** Peak RSS (MB) of each process while `work` runs. */
export async function peakRss<T>(d: Deployment, work: () => Promise<T>): Promise<{ result: T; peak: Record<string, number> }> {
  const peak: Record<string, number> = {};
  const sample = () => {
    for (const [name, p] of d.procs) if (p.child.pid && p.running) peak[name] = Math.max(peak[name] ?? 0, rss(p.child.pid) / MB);
  };
  const timer = setInterval(sample, 20);
  try {
    const result = await work();
    sample();
    return { result, peak };
  } finally {
    clearInterval(timer);
  }
}
