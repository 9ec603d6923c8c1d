import { LocalBus, createLogger } from '@fileshare/shared';
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
