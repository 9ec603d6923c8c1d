/**
 * Row 8: token round trip — issue a one-time token, download the file once with it — 32 in
 * flight; median of runs. Each run follows a run of the 4 KiB uploads it is compared with (the
 * same script, 64 connections, as long), and the row divides the two medians: both sides of the
 * ratio are measured in the same minutes on the same store. (Against the small-requests
 * workload's uploads, measured minutes earlier on a store still nearly empty, the ratio also
 * carried this VM's drift between those minutes, ±30 %.)
 * Driven by wrk like the uploads: each connection's POST answer puts its token URL in a queue,
 * the next request of any connection of that thread GETs one from it (each token downloaded
 * once), else POSTs a new token. One round trip = one 200 download. (The earlier client, a Node
 * loop over undici, spent 380–450 µs of CPU per round trip on the same two cores as the server:
 * it measured itself as much as fileshare.) p99 is of single requests, POST and GET alike.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { http } from '../../test/helpers/http.js';
import { AUTH, P, USER, WORK, checked, idOf, inTurn, medianRate, quick, say, type Bench, type PerSystem, type System } from '../context.js';
import { fmt, wrk } from '../lib.js';
import { rate, uploadScript, type Rate } from './small-requests.js';

/** Round trips, and the 4 KiB uploads measured in alternation with them (the row's reference). */
export interface TokenFigures extends Rate {
  uploadsAlongside: Rate;
}

/** wrk's script: POST a token or GET a queued one; `done` prints the round trips (200 downloads). */
const script = (tokensPath: string) => `
local threads = {}
function setup(thread) table.insert(threads, thread) end
queue = {}
ok = 0
bad = 0
function request()
  local path = table.remove(queue)
  if path then return wrk.format("GET", path) end
  return wrk.format("POST", "${tokensPath}", { ["Authorization"] = "${AUTH}" })
end
function response(status, headers, body)
  if status == 201 then
    local path = body:match('"url":"https?://[^/"]+(/[^"]+)"')
    if path then table.insert(queue, path) else bad = bad + 1 end
  elseif status == 200 then ok = ok + 1
  else bad = bad + 1 end
end
function done(summary, latency, requests)
  local sum, failed = 0, 0
  for _, t in ipairs(threads) do sum = sum + t:get("ok"); failed = failed + t:get("bad") end
  io.write(string.format("round trips: %d bad: %d duration_us: %d\\n", sum, failed, summary.duration))
end
`;

/** A session file to issue tokens for, and wrk's script and URL for round trips on it. */
export async function tokenLoad(s: System): Promise<{ url: string; lua: string }> {
  const sid = idOf((await http(`${s.base}/sessions`, { method: 'POST', auth: USER })).text);
  const fid = idOf((await http(`${s.base}/sessions/${sid}/files`, { method: 'POST', auth: USER, headers: { 'content-type': 'application/json' }, body: '{"name":"t.bin"}' })).text);
  await http(`${s.base}/sessions/${sid}/files/${fid}`, { method: 'PUT', auth: USER, body: randomBytes(4096) });
  const tokensPath = `${new URL(s.base).pathname}/sessions/${sid}/files/${fid}/tokens`;
  const lua = join(WORK, `tokens-${s.name}.lua`);
  writeFileSync(lua, script(tokensPath));
  return { url: new URL(s.base).origin + tokensPath, lua };
}

/** One wrk run of token round trips: round trips per second, p99 of single requests, and the count. */
export async function roundTrips(load: { url: string; lua: string }, seconds: number, what: string): Promise<Rate & { count: number }> {
  const w = await wrk(load.url, { connections: 32, seconds, script: load.lua });
  const m = /round trips: (\d+) bad: (\d+) duration_us: (\d+)/.exec(w.stdout);
  if (!m) throw new Error(`bench: ${what}: wrk printed no count:\n${w.stdout}`);
  checked(what, { errors: w.errors + Number(m[2]) });
  return { rps: Number(m[1]) / (Number(m[3]) / 1e6), p99: w.p99, count: Number(m[1]) };
}

export async function tokenRoundTrips(b: Bench): Promise<PerSystem<TokenFigures>> {
  const out = {} as PerSystem<TokenFigures>;
  const postLua = uploadScript();
  for (const s of b.systems) {
    const load = await tokenLoad(s);
    const what = `${s.name} token round trip`;
    const uploads = async (seconds: number) => checked(`${s.name} uploads beside tokens`, await wrk(`${s.base}/uploads`, { connections: 64, seconds, script: postLua }));
    if (!quick) {
      // warm, uncounted (as wrkMedian)
      await uploads(1);
      await roundTrips(load, 1, what);
    }
    // The uploads, then the round trips, round after round (inTurn).
    const { uploads: up, trips } = await inTurn<'uploads' | 'trips', Rate>({ uploads: () => uploads(P.wrkSecs), trips: () => roundTrips(load, P.wrkSecs, what) });
    const uploadsAlongside = rate(medianRate(up));
    out[s.name] = { ...rate(medianRate(trips)), uploadsAlongside };
    say(
      `8 tokens ${s.name}: ${fmt(out[s.name].rps)} ops/s, p99 of single requests ${fmt(out[s.name].p99, 2)} ms; 4 KiB uploads in alternation ${fmt(uploadsAlongside.rps)} req/s (median of ${P.runs})`,
    );
  }
  return out;
}
