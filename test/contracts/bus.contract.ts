import test from 'ava';
import { AppError, type Bus, type Protocol } from '@fileshare/shared';

/** The contract's own subjects: any command carries an optional number, any event its index. */
export interface TestProtocol extends Protocol {
  commands: Record<string, { request: { x?: number }; reply: unknown }>;
  events: Record<string, { i: number }>;
}
type TestBus = Bus<TestProtocol>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * What every Bus must do. `make()` returns two buses that reach each other (two processes'
 * connections on NATS; the same object for the in-process bus, which serves one process).
 */
export function busContract(label: string, make: () => Promise<{ a: TestBus; b: TestBus; close(): Promise<void> }>): void {
  let a: TestBus;
  let b: TestBus;
  let close: () => Promise<void>;
  let n = 0;
  const tag = label.replace(/\W/g, '');
  const subject = () => `contract.${tag}.${++n}`;
  test.before(async () => ({ a, b, close } = await make()));
  test.after.always(async () => close?.());

  test(`${label}: a command reaches a handler and its answer comes back`, async (t) => {
    const s = subject();
    b.serve(s, 'svc', async (body) => ({ echo: (body.x ?? 0) * 2 }));
    await b.ping();
    t.deepEqual(await a.request(s, { x: 21 }), { echo: 42 });
  });

  test(`${label}: an AppError crosses with its code and message; other errors become internal`, async (t) => {
    const s1 = subject();
    const s2 = subject();
    b.serve(s1, 'svc', async () => {
      throw new AppError('session_not_found', 'custom text');
    });
    b.serve(s2, 'svc', async () => {
      throw new Error('secret internals');
    });
    await b.ping();
    const e1 = await t.throwsAsync(a.request(s1, {}));
    t.true(e1 instanceof AppError);
    t.is((e1 as AppError).code, 'session_not_found');
    t.is((e1 as AppError).status, 404);
    t.is(e1.message, 'custom text');
    const e2 = await t.throwsAsync(a.request(s2, {}));
    t.is((e2 as AppError).code, 'internal');
    // A full disk under a handler (a record write hitting ENOSPC/SQLITE_FULL) is 507, not 500.
    const s3 = subject();
    b.serve(s3, 'svc', async () => {
      throw Object.assign(new Error('SQLITE_FULL: database or disk is full'), { code: 'SQLITE_FULL' });
    });
    await b.ping();
    const e3 = await t.throwsAsync(a.request(s3, {}));
    t.is((e3 as AppError).code, 'insufficient_storage');
    t.is((e3 as AppError).status, 507);
    t.false(e2.message.includes('secret'));
  });

  test(`${label}: nobody serving is 503 unavailable, quickly`, async (t) => {
    const started = Date.now();
    const e = await t.throwsAsync(a.request(subject(), {}, 1000));
    t.is((e as AppError).code, 'unavailable');
    t.true(Date.now() - started < 1500);
  });

  test(`${label}: replicas in one queue group share commands, each command answered once`, async (t) => {
    const s = subject();
    const seen = { one: 0, two: 0 };
    a.serve(s, 'svc', async () => (seen.one++, 'one'));
    b.serve(s, 'svc', async () => (seen.two++, 'two'));
    await a.ping();
    await b.ping();
    const answers = await Promise.all(Array.from({ length: 40 }, () => a.request(s, {})));
    t.is(answers.length, 40);
    t.is(seen.one + seen.two, 40, 'each command answered once');
    // Shared, not all on one replica (NATS picks at random: all 40 on one is a 2^-39 chance).
    t.true(seen.one > 0 && seen.two > 0, `replica one answered ${seen.one}, replica two ${seen.two}`);
    t.is(answers.filter((x) => x === 'one').length, seen.one, 'each answer comes from the replica that handled it');
  });

  test(`${label}: an event goes to one member of each group, wildcards match`, async (t) => {
    // Its own number, taken once: the tests of this contract run at once and share the counter.
    const k = ++n;
    const s = `fileshare.evt.contract${tag}.${k}`;
    const got: string[] = [];
    await a.subscribe(s, `g1${tag}${k}`, async (e) => void got.push(`g1:${e.i}`));
    await b.subscribe(s, `g1${tag}${k}`, async (e) => void got.push(`g1:${e.i}`));
    await b.subscribe(s.replace(/\.\d+$/, '.*'), `g2${tag}${k}`, async (e) => void got.push(`g2:${e.i}`));
    for (let i = 0; i < 5; i++) await a.publish(s, { i });
    for (let i = 0; i < 50 && got.length < 10; i++) await sleep(50);
    await sleep(200);
    t.is(got.filter((g) => g.startsWith('g1:')).length, 5);
    t.is(got.filter((g) => g.startsWith('g2:')).length, 5);
  });

  test(`${label}: announced events go out without the caller waiting, and close() lets them finish`, async (t) => {
    const k = ++n;
    const s = `fileshare.evt.contract${tag}.${k}`;
    const got: number[] = [];
    await b.subscribe(s, `g3${tag}${k}`, async (e) => void got.push(e.i));
    for (let i = 0; i < 5; i++) a.announce(s, { i });
    for (let i = 0; i < 50 && got.length < 5; i++) await sleep(50);
    t.deepEqual([...got].sort(), [0, 1, 2, 3, 4]);
  });

  test(`${label}: every watcher sees every event published after watch() resolved (not one per group)`, async (t) => {
    // Its own subtree: the other tests' wildcards must not see these events, nor this one theirs.
    const s = `fileshare.evt.watch${tag}${++n}.one`;
    const seenA: number[] = [];
    const seenB: number[] = [];
    const seenWild: number[] = [];
    await a.watch(s, (e) => void seenA.push(e.i));
    await b.watch(s, (e) => void seenB.push(e.i));
    await b.watch(s.replace(/\.one$/, '.*'), (e) => void seenWild.push(e.i));
    for (let i = 0; i < 5; i++) await a.publish(s, { i });
    a.announce(s, { i: 5 });
    for (let i = 0; i < 50 && seenB.length + seenA.length + seenWild.length < 18; i++) await sleep(20);
    const all = [0, 1, 2, 3, 4, 5];
    t.deepEqual([...seenA].sort(), all);
    t.deepEqual([...seenB].sort(), all);
    t.deepEqual([...seenWild].sort(), all);
  });

  test(`${label}: once caughtUp() resolves, watchers have been told every event whose publish had returned`, async (t) => {
    const s = `fileshare.evt.watch${tag}${++n}.one`;
    const seen: number[] = [];
    await b.watch(s, (e) => void seen.push(e.i));
    for (let round = 0; round < 20; round++) {
      await Promise.all(Array.from({ length: 10 }, (_, i) => a.publish(s, { i: round * 10 + i })));
      // A bus that says it is caught up now (in-process) has told the watchers already.
      if (b.caughtUpNow()) t.is(seen.length, (round + 1) * 10, `round ${round}, at once`);
      // Many callers at once, as a gateway's concurrent requests: every one of them sees all.
      const told = await Promise.all(Array.from({ length: 8 }, () => b.caughtUp().then(() => seen.length)));
      t.deepEqual(told, Array(8).fill((round + 1) * 10), `round ${round}`);
    }
  });

  test(`${label}: a watcher that throws is logged; the publisher and the other watchers go on`, async (t) => {
    const s = `fileshare.evt.watch${tag}${++n}.one`;
    const seen: number[] = [];
    await a.watch(s, () => {
      throw new Error('watcher broke');
    });
    await b.watch(s, (e) => void seen.push(e.i));
    await a.publish(s, { i: 1 });
    for (let i = 0; i < 50 && seen.length < 1; i++) await sleep(20);
    t.deepEqual(seen, [1]);
  });
}
