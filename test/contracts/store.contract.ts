import test from 'ava';
import type { Store } from '@fileshare/shared';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What every Store must do; `make()` gives a fresh, empty store. */
export function storeContract(label: string, make: () => Promise<{ store: Store; close(): Promise<void> }>): void {
  let s: Store;
  let close: () => Promise<void>;
  let n = 0;
  const key = (p: string) => `${p}:${label}:${++n}`;
  test.before(async () => ({ store: s, close } = await make()));
  test.after.always(async () => close?.());

  test(`${label}: records round-trip, delete reports whether they existed`, async (t) => {
    const k = key('rec');
    t.is(await s.get(k), undefined);
    await s.set(k, { a: 1, b: ['x'], c: null });
    t.deepEqual(await s.get(k), { a: 1, b: ['x'], c: null });
    await s.set(k, { a: 2 });
    t.deepEqual(await s.get(k), { a: 2 });
    t.true(await s.delete(k));
    t.false(await s.delete(k));
    t.is(await s.get(k), undefined);
  });

  test(`${label}: a record with a TTL disappears after it`, async (t) => {
    const k = key('ttl');
    await s.set(k, 'v', 300);
    t.is(await s.get(k), 'v');
    await sleep(450);
    t.is(await s.get(k), undefined);
  });

  // Leases (Store.lease: locks, deliveries in flight) behave as claims while the store lives.
  for (const kind of ['claim', 'lease'] as const) {
    const take = (k: string, ttlMs?: number) => (kind === 'claim' ? s.claim(k, ttlMs) : s.lease(k, ttlMs ?? 60_000));

    test(`${label}: of 100 concurrent ${kind}s of one key exactly one wins`, async (t) => {
      const k = key(kind);
      const results = await Promise.all(Array.from({ length: 100 }, () => take(k, 60_000)));
      t.is(results.filter(Boolean).length, 1);
      t.true(await s.claimed(k));
      t.false(await s.claimed(key('never')));
    });

    test(`${label}: a ${kind} ends with its TTL or its release`, async (t) => {
      const k = key(`${kind}-ttl`);
      t.true(await take(k, 200));
      t.false(await take(k, 200));
      await sleep(300);
      t.false(await s.claimed(k));
      t.true(await take(k));
      await s.release(k);
      t.false(await s.claimed(k));
      t.true(await take(k));
    });

    test(`${label}: a live ${kind} is renewed; a lapsed or released one is not`, async (t) => {
      const k = key(`${kind}-renew`);
      // 300 ms of slack on each side: a loaded CI machine stalled past 100 ms once (a fsync).
      t.true(await take(k, 1000), 'taken');
      await sleep(700);
      t.true(await s.renew(k, 1000), 'live: renewed');
      await sleep(700);
      t.true(await s.claimed(k), 'renewed: still held past its first lease');
      await sleep(700);
      t.false(await s.claimed(k), 'lapsed');
      t.false(await s.renew(k, 1000), 'lapsed: not renewed');
      t.true(await take(k, 1000), 'taken again');
      await s.release(k);
      t.false(await s.renew(k, 1000), 'released: not renewed');
    });
  }

  test(`${label}: claims and records live in separate key spaces`, async (t) => {
    const k = key('space');
    await s.claim(k);
    t.is(await s.get(k), undefined);
  });

  test(`${label}: sets`, async (t) => {
    const k = key('set');
    t.deepEqual(await s.members(k), []);
    await s.addMember(k, 'a');
    await s.addMember(k, 'b');
    await s.addMember(k, 'a');
    t.deepEqual((await s.members(k)).sort(), ['a', 'b']);
    await s.removeMember(k, 'a');
    t.deepEqual(await s.members(k), ['b']);
    await s.deleteSet(k);
    t.deepEqual(await s.members(k), []);
  });

  test.serial(`${label}: the expiry index hands out due items only, once per lease, earliest first`, async (t) => {
    const now = Date.now();
    const p = key('exp');
    const items = Array.from({ length: 20 }, (_, i) => `${p}:${i}`);
    // 2,000 items far in the future, 20 due: a claim must take only the due ones.
    for (let i = 0; i < 2000; i++) await s.schedule(`${p}:later:${i}`, now + 3_600_000 + i);
    for (const [i, it] of items.entries()) await s.schedule(it, now - 1000 + i);
    t.is(await s.dueAt(items[3]), now - 1000 + 3);
    const [x, y] = await Promise.all([s.claimDue(now, 10_000, 15), s.claimDue(now, 10_000, 15)]);
    const taken = [...x, ...y];
    t.is(taken.length, 20, 'every due item taken');
    t.is(new Set(taken).size, 20, 'no item taken twice');
    t.true(taken.every((it) => !it.includes(':later:')));
    const first = x.length === 15 ? x : y;
    t.deepEqual(first, items.slice(0, 15), 'earliest first');
    t.deepEqual(await s.claimDue(now, 10_000, 100), [], 'leased items are not handed out again');
    t.deepEqual((await s.claimDue(now + 20_000, 10_000, 100)).filter((it) => !it.includes(':later:')).sort(), [...items].sort(), 'after the lease they come due again');
    await s.unschedule(items[0]);
    t.is(await s.dueAt(items[0]), undefined);
    for (const it of items) await s.unschedule(it);
    for (let i = 0; i < 2000; i++) await s.unschedule(`${p}:later:${i}`);
  });

  test(`${label}: ping`, async (t) => {
    await t.notThrowsAsync(s.ping());
  });
}
