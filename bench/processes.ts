/**
 * Every process the benchmark starts is stopped when it ends, however it ends: normally (the
 * cleanups run in reverse order), by an error, or interrupted (SIGINT, SIGTERM, SIGHUP: a timed-out
 * CI step). Deployments' own processes (test/helpers/proc.ts) are SIGKILLed on exit; reference
 * servers are signalled here first so that nginx's master takes its workers along.
 */
import { spawn, type ChildProcess } from 'node:child_process';

const children = new Set<ChildProcess>();
const cleanups: (() => Promise<unknown>)[] = [];

/** A reference server with its stderr shown; stopped at exit. */
export function spawnReference(cmd: string, args: string[]): ChildProcess {
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Runs at the end (last registered first). */
export function onCleanup(fn: () => Promise<unknown>): void {
  cleanups.push(fn);
}

export async function cleanUp(): Promise<void> {
  for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => undefined);
  for (const c of children) c.kill('SIGTERM');
}

process.on('exit', () => {
  for (const c of children) c.kill('SIGTERM');
});
for (const [signal, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
  ['SIGHUP', 129],
] as const) {
  process.once(signal, () => {
    process.stderr.write(`bench: ${signal}: stopping every process it started\n`);
    // The 'exit' handlers (here and in test/helpers/proc.ts) signal what is still running.
    const deadline = setTimeout(() => process.exit(code), 10_000);
    void cleanUp().finally(() => {
      clearTimeout(deadline);
      process.exit(code);
    });
  });
}
