import { LocalBus, createLogger } from '@fileshare/shared';
import { NatsBus } from '@fileshare/shared/implementations';
import { busContract } from './contracts/bus.contract.js';
import { startNats } from './helpers/engines.js';

const log = createLogger({ 'log.level': 'silent' }, 'test');

busContract('local bus', async () => {
  const bus = new LocalBus(log);
  return { a: bus, b: bus, close: () => bus.close() };
});

busContract('nats bus', async () => {
  const nats = await startNats();
  const opts = { servers: [nats.url], requestTimeout: 2000, log };
  const a = await NatsBus.connect({ ...opts, name: 'a' });
  const b = await NatsBus.connect({ ...opts, name: 'b' });
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
