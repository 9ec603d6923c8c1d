import { readFileSync } from 'node:fs';

/** Resident set size of a process now, in bytes (Linux /proc). */
export function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

/** Samples the RSS of `pids` every 25 ms while `work` runs; returns the peak rise of each. */
export async function peakRise<T>(pids: Record<string, number>, work: () => Promise<T>): Promise<{ result: T; rise: Record<string, number> }> {
  const base: Record<string, number> = {};
  const peak: Record<string, number> = {};
  for (const [k, pid] of Object.entries(pids)) base[k] = peak[k] = rss(pid);
  const timer = setInterval(() => {
    for (const [k, pid] of Object.entries(pids)) peak[k] = Math.max(peak[k], rss(pid));
  }, 25);
  try {
    const result = await work();
    const rise: Record<string, number> = {};
    for (const k of Object.keys(pids)) rise[k] = peak[k] - base[k];
    return { result, rise };
  } finally {
    clearInterval(timer);
  }
}
