import { Transform } from 'node:stream';

/**
 * A byte counter that draws `[#####.....]  45%  12.3 MB/s  ETA 3s` on stderr when stderr is a
 * terminal (and nothing otherwise, so scripts and pipes stay clean).
 */
export function progress(label: string, total: number | undefined, enabled = process.stderr.isTTY === true): Transform & { finish(): void } {
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
  }) as Transform & { finish(): void };
  t.finish = () => {
    if (!enabled) return;
    draw(true);
    process.stderr.write('\n');
  };
  return t;
}
