import test from 'ava';
import { startAllInOne, startDistributed, type Deployment } from '../helpers/deploy.js';
import { redisConfig } from '../helpers/engines.js';
import { assertSurvived, readyFile, sha256, token, upload } from '../helpers/fixtures.js';

/**
 * A 2xx means durable: acknowledge uploads and session files, SIGKILL every fileshare process and
 * (distributed) nats-server and redis-server right away (no graceful anything), start them again:
 * every acknowledged file downloads with its sha256, and tokens issued before the crash still work
 * once. SIGKILL leaves the page cache alone, so this alone cannot see a missing fsync: the order of
 * syncs and answers is checked under strace in test/durability/sync-order.test.ts.
 */
function durabilitySuite(label: string, start: () => Promise<Deployment>) {
  test.serial(`${label}: everything acknowledged survives SIGKILL of every process, engines included`, async (t) => {
    const d = await start();
    try {
      if (d.engines.redis) {
        // What the README promises for Redis: every write in the AOF and fsynced before it is acknowledged.
        t.is(await redisConfig(d.engines.redis.port, 'appendonly'), 'yes');
        t.is(await redisConfig(d.engines.redis.port, 'appendfsync'), 'always');
      }
      const A = d.gateways[0];
      const acked: { url: string; sha: string }[] = [];
      const tokens: { url: string; sha: string }[] = [];
      for (let i = 0; i < 20; i++) {
        const content = `upload ${i} ${'x'.repeat(i * 1000)}`;
        const r = await upload(A, d.user, content);
        t.is(r.status, 201);
        acked.push({ url: `/uploads/${r.json.id}`, sha: sha256(content) });
      }
      for (let i = 0; i < 5; i++) {
        const content = `session file ${i}`;
        const { sid, fid } = await readyFile(A, d.user, content);
        const tk = await token(A, d.user, sid, fid);
        tokens.push({ url: `/sessions/${sid}/files/${fid}/tokens/${tk.json.id}`, sha: sha256(content) });
      }
      // The last acknowledgement and the kill are back to back.
      const last = await upload(A, d.user, 'the very last one');
      t.is(last.status, 201);
      acked.push({ url: `/uploads/${last.json.id}`, sha: sha256('the very last one') });
      await d.crashAndRestart({ engines: true });

      await assertSurvived(t, d.gateways.at(-1)!, acked, tokens);
    } finally {
      await d.stop();
    }
  });
}

durabilitySuite('all-in-one', () => startAllInOne());
durabilitySuite('distributed', () => startDistributed({ gateways: 2 }));
