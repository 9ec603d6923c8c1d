import test from 'ava';
import { AppError, LocalBus, createLogger } from '@fileshare/shared';
import { NatsBus } from '@fileshare/shared/implementations';
import { busContract, type TestProtocol } from '../contracts/bus.contract.js';
import { startNats } from '../helpers/engines.js';

const log = createLogger({ 'log.level': 'silent' }, 'test');

busContract('local bus', async () => {
  const bus = new LocalBus<TestProtocol>(log);
  return { a: bus, b: bus, close: () => bus.close() };
});

busContract('nats bus', async () => {
  const nats = await startNats();
  const opts = { servers: [nats.url], requestTimeout: 2000, log };
  const a = await NatsBus.connect<TestProtocol>({ ...opts, name: 'a' });
  const b = await NatsBus.connect<TestProtocol>({ ...opts, name: 'b' });
  return {
    a,
    b,
    async close() {
      await a.close();
      await b.close();
      await nats.proc.stop();
    },
  };
});

test('local bus: watchers are told before publish returns (a delete is forgotten before it is answered)', async (t) => {
  const bus = new LocalBus<TestProtocol>(log);
  const seen: number[] = [];
  await bus.watch('fileshare.evt.sync', (e) => void seen.push(e.i));
  bus.announce('fileshare.evt.sync', { i: 1 });
  t.deepEqual(seen, [1]);
  await bus.close();
});

test('nats bus: a watcher is told of the gap when the connection drops and when it is back, then sees events again', async (t) => {
  const nats = await startNats();
  const opts = { servers: [nats.url], requestTimeout: 2000, log };
  const a = await NatsBus.connect<TestProtocol>({ ...opts, name: 'gap-a' });
  const b = await NatsBus.connect<TestProtocol>({ ...opts, name: 'gap-b' });
  try {
    const seen: number[] = [];
    let gaps = 0;
    await b.watch(
      'fileshare.evt.gap',
      (e) => void seen.push(e.i),
      () => gaps++,
    );
    await nats.restart();
    for (let i = 0; i < 200 && gaps < 2; i++) await new Promise((r) => setTimeout(r, 50));
    t.true(gaps >= 2, `told ${gaps} times`);
    // Back: events reach the watcher again (publish fails while the stream is being recreated: retried).
    for (let i = 0; i < 100 && seen.length === 0; i++) {
      await a.publish('fileshare.evt.gap', { i: 7 }).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 50));
    }
    t.true(seen.includes(7));
  } finally {
    await a.close();
    await b.close();
    await nats.proc.stop();
  }
});

test('nats bus: caughtUp() is 503 at once while the connection is down, and works again once it is back', async (t) => {
  const nats = await startNats();
  const bus = await NatsBus.connect<TestProtocol>({ servers: [nats.url], requestTimeout: 2000, log, name: 'caught-up' });
  const works = (p: Promise<void>) =>
    p.then(
      () => true,
      () => false,
    );
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  try {
    await bus.caughtUp();
    await nats.proc.stop();
    for (let i = 0; i < 100 && (await works(bus.ping())); i++) await sleep(50);
    t.false(await works(bus.ping()), 'the bus noticed the server is gone');
    const started = Date.now();
    await t.throwsAsync(bus.caughtUp(), { instanceOf: AppError, message: /unavailable/ });
    t.true(Date.now() - started < 500);
    await nats.restart();
    let back = false;
    for (let i = 0; i < 100 && !back; i++) if (!(back = await works(bus.caughtUp()))) await sleep(50);
    t.true(back);
  } finally {
    await bus.close();
    await nats.proc.stop();
  }
});
