import test from 'ava';
import { EVENTS, createLogger } from '@fileshare/shared';
import { NatsBus } from '@fileshare/shared/implementations';
import { startDistributed } from './helpers/deploy.js';
import { eventually, readyFile, sleep, storedBlobs, upload } from './helpers/fixtures.js';
import { http } from './helpers/http.js';

const log = createLogger({ 'log.level': 'silent' }, 'test');

test.serial('two expiry replicas delete every expired item exactly once, and expiry survives its own restart', async (t) => {
  const d = await startDistributed({ gateways: 1, expiries: 2 });
  const bus = await NatsBus.connect({ servers: [d.engines.nats!.url], name: 'test-observer', requestTimeout: 2000, log });
  try {
    const counts = new Map<string, number>();
    await bus.subscribe('fileshare.evt.>', 'test-observer', async (e, subject) => {
      if (subject === EVENTS.uploadExpired || subject === EVENTS.sessionExpired) {
        const id = (e.uploadId ?? e.sessionId) as string;
        counts.set(id, (counts.get(id) ?? 0) + 1);
      }
    });
    const A = d.gateways[0];
    // Items that come due while no expiry replica runs are deleted once one is back.
    await Promise.all([d.procs.get('expiry1')!.stop(), d.procs.get('expiry2')!.stop()]);
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) {
      const r = await upload(A, d.user, `expiring ${i}`, { ttl: '1' });
      ids.push(r.json.id);
    }
    for (let i = 0; i < 5; i++) ids.push((await readyFile(A, d.user, `session ${i}`, 1)).sid);
    await sleep(2500);
    t.true(storedBlobs(d).length >= 35, 'nothing deleted while expiry is down');
    await Promise.all([d.restart('expiry1'), d.restart('expiry2')]);

    t.true(await eventually(() => storedBlobs(d).length === 0, 15_000), 'every byte deleted');
    t.true(await eventually(() => ids.every((id) => counts.has(id)), 10_000), 'every item reported expired');
    await sleep(2500); // time for a duplicate, if there were one
    t.deepEqual([...counts.values()].filter((n) => n !== 1), [], 'each item deleted exactly once');
    t.is(counts.size, ids.length);
    const r = await http(`${A}/uploads/${ids[0]}`);
    t.is(r.status, 410, 'tombstone answers 410');
    const logs = d.procs.get('expiry1')!.log() + d.procs.get('expiry2')!.log();
    t.regex(logs, /"msg":"expiry sweep"/);
  } finally {
    await bus.close();
    await d.stop();
  }
});

test.serial('SIGKILL of expiry mid-sweep: after restart every due item is deleted exactly once, none missed', async (t) => {
  // A short lease, so items the killed replica had claimed come due again quickly.
  const d = await startDistributed({ gateways: 1, expiries: 1, env: { FILESHARE_EXPIRY_LEASE: '2', FILESHARE_EXPIRY_BATCH: '50' } });
  const bus = await NatsBus.connect({ servers: [d.engines.nats!.url], name: 'observer-kill', requestTimeout: 2000, log });
  try {
    const counts = new Map<string, number>();
    await bus.subscribe(EVENTS.uploadExpired, 'observer-kill', async (e) => void counts.set(e.uploadId, (counts.get(e.uploadId) ?? 0) + 1));
    const A = d.gateways[0];
    await d.procs.get('expiry1')!.stop();
    const ids: string[] = [];
    for (let i = 0; i < 400; i += 20) ids.push(...(await Promise.all(Array.from({ length: 20 }, (_, j) => upload(A, d.user, `k${i + j}`, { ttl: '1' })))).map((r) => r.json.id));
    await sleep(1100);
    await d.restart('expiry1');
    // Kill it as soon as it has started deleting, while most of the sweep is still ahead.
    t.true(await eventually(() => counts.size > 0, 15_000, 5));
    await d.procs.get('expiry1')!.kill();
    const atKill = counts.size;
    t.log(`killed after ${atKill} of ${ids.length} deletions`);
    t.true(atKill < ids.length, 'killed mid-sweep');
    await d.restart('expiry1');
    t.true(await eventually(() => ids.every((id) => counts.has(id)), 30_000), `${counts.size} of ${ids.length} reported`);
    t.true(await eventually(() => storedBlobs(d).length === 0, 10_000), 'every byte deleted');
    await sleep(3000); // past another lease: a duplicate would show now
    t.deepEqual([...counts.values()].filter((n) => n !== 1), [], 'none deleted twice');
  } finally {
    await bus.close();
    await d.stop();
  }
});
