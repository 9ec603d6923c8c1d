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
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) {
      const r = await upload(A, d.user, `expiring ${i}`, { ttl: '1' });
      ids.push(r.json.id);
    }
    for (let i = 0; i < 5; i++) ids.push((await readyFile(A, d.user, `session ${i}`, 1)).sid);
    // Items that come due while no expiry replica runs are deleted once one is back.
    await Promise.all([d.procs.get('expiry1')!.stop(), d.procs.get('expiry2')!.stop()]);
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
