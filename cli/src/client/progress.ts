import { Transform } from 'node:stream';

/**
 * A byte counter that draws `[#####.....]  45%  12.3 MB/s  ETA 3s` on stderr when stderr is a
 * terminal (and nothing otherwise, so scripts and pipes stay clean).
 */
export type Progress = Transform & {
  finish(): void;
  /** Bytes counted without passing through (a resumable upload's chunks; what was sent before a resume). */
  tick(n: number): void;
  /** Back to `n` bytes (a resumed upload that lost the chunk in flight). */
  set(n: number): void;
};

export function progress(label: string, total: number | undefined, enabled = process.stderr.isTTY === true): Progress {
  let done = 0;
  const started = Date.now();
  let last = 0;
  const draw = (force = false) => {
    if (!enabled) return;
    const now = Date.now();
    if (!force && now - last < 100) return;
    last = now;
    const secs = Math.max(0.001, (now - started) / 1000);
    const rate = done / secs;
    const mb = (n: number) => (n / 1e6).toFixed(1);
    let line = `${label} ${mb(done)} MB`;
    if (total) {
      const frac = Math.min(1, done / total);
      const width = 24;
      const fill = Math.round(frac * width);
      const eta = rate > 0 ? Math.ceil((total - done) / rate) : 0;
      line = `${label} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${String(Math.floor(frac * 100)).padStart(3)}%  ${mb(done)}/${mb(total)} MB  ${mb(rate)} MB/s  ETA ${eta}s`;
    } else line += `  ${mb(rate)} MB/s`;
    process.stderr.write(`\r${line}\u001b[K`);
  };
  const t = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      done += chunk.length;
      draw();
      cb(null, chunk);
    },
  }) as Progress;
  t.tick = (n) => {
    done += n;
    draw();
  };
  t.set = (n) => {
    done = n;
    draw();
  };
  t.finish = () => {
    if (!enabled) return;
    draw(true);
    process.stderr.write('\n');
  };
  return t;
}
