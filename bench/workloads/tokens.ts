/** Row 5: token round trip (issue a token, download once with it), 32 in flight; median of runs. */
import { randomBytes } from 'node:crypto';
import { http } from '../../test/helpers/http.js';
import { P, USER, checked, idOf, round, say, type Bench, type PerSystem } from '../context.js';
import { fmt, median } from '../lib.js';
import type { Rate } from './small-requests.js';

export async function tokenRoundTrips(b: Bench): Promise<PerSystem<Rate>> {
  const out = {} as PerSystem<Rate>;
  for (const s of b.systems) {
    const sid = idOf((await http(`${s.base}/sessions`, { method: 'POST', auth: USER })).text);
    const fid = idOf(
      (await http(`${s.base}/sessions/${sid}/files`, { method: 'POST', auth: USER, headers: { 'content-type': 'application/json' }, body: '{"name":"t.bin"}' })).text,
    );
    await http(`${s.base}/sessions/${sid}/files/${fid}`, { method: 'PUT', auth: USER, body: randomBytes(4096) });
    const origin = new URL(s.base).origin;
    const runs: Rate[] = [];
    for (let run = 0; run < P.runs; run++) {
      const lat: number[] = [];
      const until = Date.now() + P.wrkSecs * 1000;
      let failed = 0;
      await Promise.all(
        Array.from({ length: 32 }, async () => {
          while (Date.now() < until) {
            const t0 = performance.now();
            const tk = await http(`${s.base}/sessions/${sid}/files/${fid}/tokens`, { method: 'POST', auth: USER });
            const url = (JSON.parse(tk.text) as { url?: string }).url ?? '';
            const r = await http(origin + new URL(url).pathname);
            if (tk.status !== 201 || r.status !== 200) failed++;
            lat.push(performance.now() - t0);
          }
        }),
      );
      checked(`${s.name} token round trip`, { errors: failed });
      lat.sort((a, c) => a - c);
      runs.push({ rps: lat.length / P.wrkSecs, p99: lat[Math.floor(lat.length * 0.99)] });
    }
    out[s.name] = { rps: round(median(runs.map((r) => r.rps))), p99: round(median(runs.map((r) => r.p99)), 3) };
    say(`5 tokens ${s.name}: ${fmt(out[s.name].rps)} ops/s, p99 ${fmt(out[s.name].p99, 2)} ms (median of ${P.runs})`);
  }
  return out;
}
