import test from 'ava';
import { EVENTS, createLogger } from '@fileshare/shared';
import { NatsBus } from '@fileshare/shared/implementations';
import { startDistributed } from '../helpers/deploy.js';
import { eventually, readyFile, sleep, storedBlobs, upload } from '../helpers/fixtures.js';
import { http } from '../helpers/http.js';

const log = createLogger({ 'log.level': 'silent' }, 'test');

/**
 * Deletions counted where they happen, from the debug lines of every process of a deployment:
 * claims handled by each expiry replica (`expiry item handled`), and bytes actually deleted by each
 * storage replica (`expired bytes deleted`, `file bytes deleted`), per item / blob. Events alone
 * cannot show a second deletion: storage only sends `expired` while the record exists.
 */
function deletions(logs: string): { claims: Map<string, number>; blobDeletes: Map<string, number> } {
  const claims = new Map<string, number>();
  const blobDeletes = new Map<string, number>();
  for (const line of logs.split('\n')) {
    if (!line.startsWith('{')) continue;
    const e = JSON.parse(line) as { msg?: string; item?: string; blob?: string };
    if (e.msg === 'expiry item handled' && e.item) claims.set(e.item, (claims.get(e.item) ?? 0) + 1);
    if ((e.msg === 'expired bytes deleted' || e.msg === 'file bytes deleted') && e.blob) blobDeletes.set(e.blob, (blobDeletes.get(e.blob) ?? 0) + 1);
  }
  return { claims, blobDeletes };
}
const DEBUG = { FILESHARE_LOG_LEVEL: 'debug' };

for (const blob of ['fs', 's3'] as const)
  test.serial(`two expiry replicas and two storage replicas (${blob}) delete every expired item exactly once, and expiry survives its own restart`, async (t) => {
    const d = await startDistributed({ gateways: 1, expiries: 2, storages: 2, blob, env: DEBUG });
    const bus = await NatsBus.connect({ servers: [d.engines.nats!.url], name: 'test-observer', requestTimeout: 2000, log });
    try {
      const counts = new Map<string, number>();
      await bus.subscribe('fileshare.evt.>', 'test-observer', async (e, subject) => {
        if (subject === EVENTS.uploadExpired || subject === EVENTS.sessionExpired) {
          const id = 'uploadId' in e ? e.uploadId : e.sessionId;
          counts.set(id, (counts.get(id) ?? 0) + 1);
        }
      });
      const A = d.gateways[0];
      // Items that come due while no expiry replica runs are deleted once one is back.
      await Promise.all([d.procs.get('expiry1')!.stop(), d.procs.get('expiry2')!.stop()]);
      const ids: string[] = [];
      for (let i = 0; i < 30; i++) {
        const r = await upload(A, d.user, `expiring ${i}`, { ttl: '1' });
        t.is(r.status, 201, r.text);
        ids.push(r.json.id);
      }
      for (let i = 0; i < 5; i++) ids.push((await readyFile(A, d.user, `session ${i}`, 1)).sid);
      await sleep(2500);
      const kept = storedBlobs(d).length;
      t.true(kept >= 35, `nothing deleted while expiry is down: ${kept} of 35 blobs stored`);
      await Promise.all([d.restart('expiry1'), d.restart('expiry2')]);

      t.true(await eventually(() => storedBlobs(d).length === 0, 15_000), `every byte deleted (${blob}): ${storedBlobs(d).length} left`);
      t.true(await eventually(() => ids.every((id) => counts.has(id)), 10_000), 'every item reported expired');
      await sleep(2500); // time for a duplicate, if there were one
      t.deepEqual(
        [...counts.values()].filter((n) => n !== 1),
        [],
        'each item reported expired once',
      );
      t.is(counts.size, ids.length);
      // Where deletions happen: each due item claimed and handled once across both expiry
      // replicas, each blob's bytes deleted once across both storage replicas.
      const { claims, blobDeletes } = deletions(d.logs());
      const due = [...claims.keys()].filter((k) => k.startsWith('upload:') || k.startsWith('session:'));
      t.is(due.length, ids.length, 'every item claimed');
      t.deepEqual(
        [...claims.entries()].filter(([, n]) => n !== 1),
        [],
        'an item claimed twice',
      );
      t.is(blobDeletes.size, 35, 'thirty uploads and five session files: 35 blobs deleted');
      t.deepEqual(
        [...blobDeletes.entries()].filter(([, n]) => n !== 1),
        [],
        'a blob deleted twice',
      );
      t.log(`${blob}: ${claims.size} claims handled once each, ${blobDeletes.size} blobs deleted once each, across 2 expiry and 2 storage replicas`);
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
  const d = await startDistributed({ gateways: 1, expiries: 1, env: { FILESHARE_EXPIRY_LEASE: '2', FILESHARE_EXPIRY_BATCH: '50', ...DEBUG } });
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
    t.deepEqual(
      [...counts.values()].filter((n) => n !== 1),
      [],
      'none reported twice',
    );
    // Claimed again after the kill is allowed (the lease ran out); deleting bytes twice is not.
    const { blobDeletes } = deletions(d.logs());
    t.is(blobDeletes.size, ids.length, 'every blob deleted');
    t.deepEqual(
      [...blobDeletes.entries()].filter(([, n]) => n !== 1),
      [],
      'a blob deleted twice',
    );
  } finally {
    await bus.close();
    await d.stop();
  }
});
