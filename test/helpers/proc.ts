import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';

/**
 * A child process whose stdout+stderr go to a log file, killed when the test run ends. The child
 * writes the file itself (its descriptors are the file's): piped through this process, a busy
 * server's access lines cost the test or benchmark process CPU on the same cores.
 */
export class Proc {
  readonly child: ChildProcess;
  private exited: Promise<number | null>;

  constructor(
    readonly name: string,
    cmd: string,
    args: string[],
    readonly logFile: string,
    env: NodeJS.ProcessEnv = {},
    cwd?: string,
  ) {
    const out = openSync(logFile, 'a');
    try {
      this.child = spawn(cmd, args, { env: { ...process.env, ...env }, cwd, stdio: ['ignore', out, out] });
    } finally {
      closeSync(out);
    }
    this.exited = new Promise((r) => this.child.once('exit', (code) => r(code)));
    live.add(this);
    void this.exited.then(() => live.delete(this));
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  log(): string {
    try {
      return readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }

  /** Signal and wait for the exit; SIGKILL after `graceMs`. Resolves the exit code. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 15_000): Promise<number | null> {
    if (!this.running) return this.child.exitCode;
    this.child.kill(signal);
    const t = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    const code = await this.exited;
    clearTimeout(t);
    return code;
  }

  kill(): Promise<number | null> {
    return this.stop('SIGKILL');
  }

  waitExit(): Promise<number | null> {
    return this.exited;
  }
}

const live = new Set<Proc>();
// Never leave servers behind when the test worker exits.
process.on('exit', () => {
  for (const p of live) p.child.kill('SIGKILL');
});
