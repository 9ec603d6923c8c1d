import { readFileSync } from 'node:fs';

/** Resident set size of a process now, in bytes (Linux /proc). */
export function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

/**
 * Samples the RSS of `pids` every 25 ms against one baseline taken now, for a whole test: growth
 * kept by one phase counts against the next (a baseline per phase would forgive it). `phase()`
 * gives the peak rise of each process since the previous call, relative to that one baseline.
 */
export function watchRss(pids: Record<string, number>): { phase(): Record<string, number>; stop(): void } {
  const base: Record<string, number> = {};
  const peak: Record<string, number> = {};
  for (const [k, pid] of Object.entries(pids)) base[k] = peak[k] = rss(pid);
  const timer = setInterval(() => {
    for (const [k, pid] of Object.entries(pids)) peak[k] = Math.max(peak[k], rss(pid));
  }, 25);
  return {
    phase() {
      const rise: Record<string, number> = {};
      for (const [k, pid] of Object.entries(pids)) {
        peak[k] = Math.max(peak[k], rss(pid));
        rise[k] = peak[k] - base[k];
        peak[k] = rss(pid); // the next phase's peak starts from now, measured against the same base
      }
      return rise;
    },
    stop: () => clearInterval(timer),
  };
}
