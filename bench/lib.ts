import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const exec = promisify(execFile);

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN;
};

/** One curl transfer; returns HTTP status and seconds (curl's own clock). */
export async function curl(args: string[]): Promise<{ status: number; seconds: number; body: string }> {
  const { stdout } = await exec('curl', ['-s', '-S', '--max-time', '600', '-w', '\n%{http_code} %{time_total}', ...args], { maxBuffer: 64 * 1024 * 1024 });
  const lines = stdout.trimEnd().split('\n');
  const [code, secs] = lines.pop()!.split(' ');
  return { status: Number(code), seconds: Number(secs), body: lines.join('\n') };
}

/** wrk for `seconds` at `connections`; req/s and p99 latency (ms). */
export async function wrk(
  url: string,
  opts: { connections: number; seconds: number; script?: string; threads?: number },
): Promise<{ rps: number; p99: number; errors: number; requests: number; stdout: string }> {
  const args = [`-t${opts.threads ?? 2}`, `-c${opts.connections}`, `-d${opts.seconds}s`, '--latency', '--timeout', '10s'];
  if (opts.script) args.push('-s', opts.script);
  const { stdout } = await exec('wrk', [...args, url], { maxBuffer: 4 * 1024 * 1024 });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? NaN);
  const m = /99%\s+([\d.]+)(us|ms|s)/.exec(stdout);
  const p99 = m ? Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1) : NaN;
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1] ?? 0);
  const sockErr = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
  const errors = non2xx + (sockErr ? sockErr.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
  const requests = Number(/(\d+) requests in/.exec(stdout)?.[1] ?? NaN);
  return { rps, p99, errors, requests, stdout };
}

export const MB = 1_000_000;
export const fmt = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');
