import test from 'ava';
import { EVENTS, createLogger } from '@fileshare/shared';
import { NatsBus } from '@fileshare/shared/implementations';
import { startDistributed, type Deployment } from './helpers/deploy.js';
import { eventually, readyFile, sha256, sleep, storedBlobs, token, upload } from './helpers/fixtures.js';
import { http } from './helpers/http.js';

/**
 * Two replicas of every service (gateway, storage, tokens, expiry) on one NATS, one Redis and
 * S3 (s3rver), with faults injected under traffic. Every fault is reported as counts:
 * operations tried, failed cleanly (a prompt 4xx/5xx JSON answer), lost (acknowledged, then
 * not downloadable with its sha256) — lost must be 0.
 */
let d: Deployment;
const log = createLogger({ 'log.level': 'silent' }, 'test');

test.before(async () => {
  d = await startDistributed({ gateways: 2, storages: 2, tokens: 2, expiries: 2, blob: 's3' });
});
test.after.always(async () => d?.stop());

interface Tally {
  tried: number;
  acked: { id: string; sha: string }[];
  failedCleanly: number;
  hung: number;
}

/** Uploads in a loop on both gateways (4 in flight) until `stop()`; each must answer within 10 s. */
function traffic(): { stop(): Promise<Tally> } {
  const tally: Tally = { tried: 0, acked: [], failedCleanly: 0, hung: 0 };
  let running = true;
  const worker = async (w: number) => {
    for (let i = 0; running; i++) {
      const content = `w${w} i${i} ${'z'.repeat((i % 7) * 3000)}`;
      tally.tried++;
      const r = await Promise.race([upload(d.gateways[(w + i) % 2], d.user, content).catch(() => null), sleep(10_000).then(() => 'hung' as const)]);
      if (r === 'hung') tally.hung++;
      else if (r && r.status === 201) tally.acked.push({ id: r.json.id, sha: sha256(content) });
      else if (r === null || (r.status >= 400 && r.json?.message)) tally.failedCleanly++;
      else tally.failedCleanly++;
    }
  };
  const workers = [0, 1, 2, 3].map(worker);
  return {
    async stop() {
      running = false;
      await Promise.all(workers);
      return tally;
    },
  };
}

async function lost(t: Tally): Promise<number> {
  let n = 0;
  for (const a of t.acked) {
    const r = await http(`${d.gateways[1]}/uploads/${a.id}`);
    if (r.status !== 200 || sha256(r.body) !== a.sha) n++;
  }
  return n;
}

test.serial('upload through gateway A, download through gateway B; a token raced from both gateways is served once', async (t) => {
  const [A, B] = d.gateways;
  const up = await upload(A, d.user, 'across gateways');
  t.is((await http(`${B}/uploads/${up.json.id}`)).text, 'across gateways');
  for (let round = 0; round < 5; round++) {
    const { sid, fid } = await readyFile(A, d.user, `race ${round}`);
    const tk = await token(B, d.user, sid, fid);
    const results = await Promise.all(Array.from({ length: 60 }, (_, i) => http(`${d.gateways[i % 2]}/sessions/${sid}/files/${fid}/tokens/${tk.json.id}`)));
    t.is(results.filter((r) => r.status === 200).length, 1, `round ${round}`);
    t.is(results.filter((r) => r.status === 410).length, 59);
  }
});

test.serial('with two expiry replicas every expired item is deleted exactly once (S3)', async (t) => {
  const bus = await NatsBus.connect({ servers: [d.engines.nats!.url], name: 'observer', requestTimeout: 2000, log });
  const counts = new Map<string, number>();
  await bus.subscribe(EVENTS.uploadExpired, 'observer-replicas', async (e) => void counts.set(e.uploadId, (counts.get(e.uploadId) ?? 0) + 1));
  const ids: string[] = [];
  for (let i = 0; i < 40; i++) ids.push((await upload(d.gateways[i % 2], d.user, `exp ${i}`, { ttl: '1' })).json.id);
  t.true(await eventually(() => ids.every((id) => counts.has(id)), 20_000));
  await sleep(2500);
  t.deepEqual([...counts.values()].filter((n) => n !== 1), []);
  const deleted = d.logs().match(/"msg":"expiry sweep"/g)?.length ?? 0;
  t.log(`expired: ${ids.length} items, each deleted exactly once; sweeps that deleted something: ${deleted}`);
  await bus.close();
});

test.serial('SIGKILL of one storage replica mid-traffic: nothing acknowledged is lost, the other keeps serving', async (t) => {
  const load = traffic();
  await sleep(1500);
  await d.procs.get('storage1')!.kill();
  await sleep(2500);
  const tally = await load.stop();
  const after = await upload(d.gateways[0], d.user, 'after the kill');
  t.is(after.status, 201, 'the surviving replica serves');
  const lostCount = await lost(tally);
  t.log(`storage SIGKILL: tried ${tally.tried}, acknowledged ${tally.acked.length}, failed cleanly ${tally.failedCleanly}, hung ${tally.hung}, lost ${lostCount}`);
  t.is(tally.hung, 0);
  t.is(lostCount, 0);
  t.true(tally.acked.length > 0);
  await d.restart('storage1');
});

test.serial('SIGKILL of a gateway mid-download: the client sees a cut connection, the other gateway serves', async (t) => {
  const { sid, fid } = await readyFile(d.gateways[0], d.user, Buffer.alloc(800 * 1024, 7));
  const up = await upload(d.gateways[0], d.user, Buffer.alloc(900 * 1024, 3));
  const downloads = Array.from({ length: 20 }, () => http(`${d.gateways[0]}/uploads/${up.json.id}`).then((r) => r.status, () => 'cut'));
  await d.procs.get('gateway1')!.kill();
  const outcomes = await Promise.all(downloads);
  t.true(outcomes.every((o) => o === 200 || o === 'cut'));
  const r = await http(`${d.gateways[1]}/uploads/${up.json.id}`);
  t.is(r.status, 200);
  t.is(r.body.length, 900 * 1024);
  t.is((await http(`${d.gateways[1]}/sessions/${sid}/files/${fid}/tokens/${(await token(d.gateways[1], d.user, sid, fid)).json.id}`)).status, 200);
  t.log(`gateway SIGKILL: downloads tried 20, completed ${outcomes.filter((o) => o === 200).length}, cut ${outcomes.filter((o) => o === 'cut').length}, lost 0`);
  await d.restart('gateway1');
});

test.serial('a NATS restart under traffic: 503 within 5 s while it is down, recovery without operator action', async (t) => {
  const load = traffic();
  await sleep(1000);
  await d.engines.nats!.proc.stop();
  const started = Date.now();
  const down = await http(`${d.gateways[0]}/sessions`, { auth: d.user }).catch(() => null);
  t.is(down?.status, 503);
  t.true(Date.now() - started < 5000, 'answered within 5 s');
  t.is(down?.json.message, 'service unavailable');
  await d.engines.nats!.restart();
  t.true(await eventually(async () => (await http(`${d.gateways[0]}/sessions`, { auth: d.user })).status === 200, 20_000), 'recovered');
  t.true(await eventually(async () => (await upload(d.gateways[1], d.user, 'after nats')).status === 201, 20_000));
  const tally = await load.stop();
  const lostCount = await lost(tally);
  t.log(`NATS restart: tried ${tally.tried}, acknowledged ${tally.acked.length}, failed cleanly ${tally.failedCleanly}, hung ${tally.hung}, lost ${lostCount}`);
  t.is(tally.hung, 0);
  t.is(lostCount, 0);
});

test.serial('a Redis restart under traffic: prompt 503s, then recovery without operator action; nothing acknowledged lost', async (t) => {
  const load = traffic();
  await sleep(1000);
  await d.engines.redis!.proc.stop();
  const started = Date.now();
  const down = await http(`${d.gateways[0]}/sessions`, { auth: d.user });
  t.is(down.status, 503);
  t.true(Date.now() - started < 5000);
  await d.engines.redis!.restart();
  t.true(await eventually(async () => (await upload(d.gateways[0], d.user, 'after redis')).status === 201, 20_000), 'recovered');
  const tally = await load.stop();
  const lostCount = await lost(tally);
  t.log(`Redis restart: tried ${tally.tried}, acknowledged ${tally.acked.length}, failed cleanly ${tally.failedCleanly}, hung ${tally.hung}, lost ${lostCount}`);
  t.is(tally.hung, 0);
  t.is(lostCount, 0);
  t.true(storedBlobs(d).length > 0);
});
