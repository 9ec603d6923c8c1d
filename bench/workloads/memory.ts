/** Row 6b: peak RSS of any one process during P.memN concurrent uploads of P.memSize; median of runs. */
import { createReadStream } from 'node:fs';
import { request } from 'undici';
import { agent, http } from '../../test/helpers/http.js';
import { AUTH, P, USER, idOf, peakRss, round, say, type Bench, type PerSystem } from '../context.js';
import { MB, fmt, median } from '../lib.js';

export async function concurrentUploadRss(b: Bench): Promise<PerSystem<number>> {
  const out = {} as PerSystem<number>;
  for (const s of b.systems) {
    const peaks: number[] = [];
    let last: Record<string, number> = {};
    for (let run = 0; run < P.runs; run++) {
      const { peak } = await peakRss(s.d, () =>
        Promise.all(
          Array.from({ length: P.memN }, async () => {
            const sid = idOf((await http(`${s.base}/sessions`, { method: 'POST', auth: USER })).text);
            const fid = idOf(
              (await http(`${s.base}/sessions/${sid}/files`, { method: 'POST', auth: USER, headers: { 'content-type': 'application/json' }, body: '{"name":"m.bin"}' })).text,
            );
            const r = await request(`${s.base}/sessions/${sid}/files/${fid}`, {
              method: 'PUT',
              dispatcher: agent,
              headers: { authorization: AUTH, 'content-length': String(P.memSize) },
              body: createReadStream(b.files.mid),
            });
            await r.body.dump();
            if (r.statusCode !== 200) throw new Error(`${s.name} concurrent PUT ${r.statusCode}`);
            await http(`${s.base}/sessions/${sid}`, { method: 'DELETE', auth: USER });
          }),
        ),
      );
      peaks.push(Math.max(...Object.values(peak)));
      last = peak;
    }
    out[s.name] = round(median(peaks));
    const perProcess = JSON.stringify(Object.fromEntries(Object.entries(last).map(([k, v]) => [k, round(v)])));
    say(`6 ${s.name}: ${P.memN} concurrent ${P.memSize / MB} MB uploads, peak RSS per process (last run) ${perProcess}, median of ${P.runs} peaks ${fmt(out[s.name])} MB`);
  }
  return out;
}
