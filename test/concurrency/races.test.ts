import test from 'ava';
import { startDistributed, type Deployment } from '../helpers/deploy.js';
import { eventually, newSession, readyFile, sleep, token } from '../helpers/fixtures.js';
import { http } from '../helpers/http.js';
import { holdings } from '../helpers/leftovers.js';

let d: Deployment;
test.before(async () => {
  d = await startDistributed({ gateways: 2, storages: 2, tokens: 2, expiries: 2 });
});
test.after.always(async () => d?.stop());

test.serial('1,000 tokens, each raced by 4 downloads across two gateways: each served exactly once', async (t) => {
  const [A, B] = d.gateways;
  const files = await Promise.all(Array.from({ length: 10 }, (_, i) => readyFile(A, d.user, `file ${i}`)));
  const tokens: { url: string; text: string }[] = [];
  for (let i = 0; i < 1000; i += 50) {
    const batch = await Promise.all(
      Array.from({ length: 50 }, async (_, j) => {
        const f = files[(i + j) % files.length];
        const tk = await token(i % 2 ? A : B, d.user, f.sid, f.fid);
        return { url: `/sessions/${f.sid}/files/${f.fid}/tokens/${tk.json.id}`, text: `file ${(i + j) % files.length}` };
      }),
    );
    tokens.push(...batch);
  }
  let served = 0;
  let refused = 0;
  let other = 0;
  for (let i = 0; i < tokens.length; i += 50) {
    const results = await Promise.all(
      tokens.slice(i, i + 50).map(async (tk) => {
        const rs = await Promise.all([A, B, A, B].map((g) => http(g + tk.url)));
        const ok = rs.filter((r) => r.status === 200);
        if (ok.length === 1 && ok[0].text === tk.text) served++;
        refused += rs.filter((r) => r.status === 410).length;
        other += rs.filter((r) => r.status !== 200 && r.status !== 410).length;
        return ok.length;
      }),
    );
    t.true(results.every((n) => n === 1));
  }
  t.log(`1000 tokens, 4000 downloads: ${served} served once, ${refused} refused (410), ${other} other`);
  t.is(served, 1000);
  t.is(refused, 3000);
  t.is(other, 0);
});

test.serial('uploads, deletes and expiry of the same sessions at once: no orphan bytes, no dangling records, no 5xx', async (t) => {
  const [A, B] = d.gateways;
  const before = await holdings(d);
  const statuses: number[] = [];
  // Sessions live 2 s and their work is spread over ~3 s: entries, PUTs and tokens land before,
  // during and after the sessions expire (the expiry sweep runs every second).
  await Promise.all(
    Array.from({ length: 12 }, async (_, i) => {
      const sid = await newSession(i % 2 ? A : B, d.user, 2);
      const work = Array.from({ length: 6 }, async (_, j) => {
        const g = (i + j) % 2 ? A : B;
        await sleep(j * 450 + (i % 4) * 60);
        const f = await http(`${g}/sessions/${sid}/files`, { method: 'POST', auth: d.user, headers: { 'content-type': 'application/json' }, body: '{"name":"r.bin"}' });
        statuses.push(f.status);
        if (f.status !== 201) return;
        await sleep(150);
        const put = await http(`${g}/sessions/${sid}/files/${f.json.id}`, { method: 'PUT', auth: d.user, body: Buffer.alloc(20_000 + j, j) });
        statuses.push(put.status);
        if (put.status === 200) statuses.push((await token(g, d.user, sid, f.json.id)).status);
      });
      // A third of the sessions are deleted while their files arrive; the rest expire.
      if (i % 3 === 0) work.push(sleep(700).then(async () => void statuses.push((await http(`${A}/sessions/${sid}`, { method: 'DELETE', auth: d.user })).status)));
      await Promise.all(work);
    }),
  );
  const count = (s: number) => statuses.filter((x) => x === s).length;
  t.deepEqual(
    statuses.filter((s) => s >= 500),
    [],
    'no 5xx',
  );
  t.true(count(200) > 0 && count(201) > 0, 'work succeeded before the sessions ended');
  t.true(count(410) > 0, 'work reached sessions that had expired: the races overlapped');
  t.true(
    await eventually(async () => {
      const h = await holdings(d);
      return h.blobs === before.blobs && h.files === before.files && h.guards === 0;
    }, 20_000),
    `after expiry: ${JSON.stringify(await holdings(d))} (before ${JSON.stringify(before)})`,
  );
  t.log(`statuses: ${JSON.stringify(statuses.reduce<Record<number, number>>((m, s) => ((m[s] = (m[s] ?? 0) + 1), m), {}))}; everything gone after expiry`);
});
