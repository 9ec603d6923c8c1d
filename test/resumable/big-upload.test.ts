import { createHash } from 'node:crypto';
import { closeSync, createReadStream, openSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import test from 'ava';
import { request } from 'undici';
import { startAllInOne, startDistributed, type Deployment } from '../helpers/deploy.js';
import { agent, basic, http } from '../helpers/http.js';
import { watchRss } from '../helpers/rss.js';
import { tempDir } from '../helpers/tmp.js';

const SIZE = 2.5e9;
const CHUNK = 64 * 1024 * 1024;
const LIMIT = 64 * 1024 * 1024;
const MiB = 1024 * 1024;

/**
 * A 2.5 GB file (sparse: zeros) up as a tus upload in 64 MB chunks — past the 1e9 Content-Length a
 * single request can have — then down again with a matching sha256; no process's RSS rises more
 * than 64 MB over its baseline before the first chunk, at any time.
 */
function bigSuite(label: string, start: (env: Record<string, string>) => Promise<Deployment>) {
  test.serial(`${label}: 2.5 GB in 64 MB tus chunks and back, sha256 intact, flat memory`, async (t) => {
    const file = join(tempDir('fs-big-'), 'sparse.bin');
    closeSync(openSync(file, 'w'));
    truncateSync(file, SIZE);
    const d = await start({ FILESHARE_LIMITS_MAX_FILE_SIZE: String(3e9) });
    try {
      const watch = watchRss(Object.fromEntries([...d.procs].map(([name, p]) => [name, p.child.pid!])));
      const tus = { authorization: basic(...d.user), 'tus-resumable': '1.0.0' };
      const c = await http(`${d.gateways[0]}/uploads`, { method: 'POST', auth: d.user, headers: { 'tus-resumable': '1.0.0', 'upload-length': String(SIZE) } });
      t.is(c.status, 201);
      const sent = createHash('sha256');
      const started = Date.now();
      for (let offset = 0; offset < SIZE;) {
        const end = Math.min(SIZE, offset + CHUNK);
        const body = createReadStream(file, { start: offset, end: end - 1, highWaterMark: 1024 * 1024 }).pipe(
          new Transform({ transform: (chunk: Buffer, _e, cb) => (sent.update(chunk), cb(null, chunk)) }),
        );
        // Alternate gateways (distributed: two): no chunk sticks to one.
        const gw = d.gateways[(offset / CHUNK) % d.gateways.length];
        const r = await request(`${gw}${new URL(c.headers.location).pathname.replace(/^\/rtc\/fileshare/, '')}`, {
          method: 'PATCH',
          dispatcher: agent,
          headers: { ...tus, 'content-type': 'application/offset+octet-stream', 'upload-offset': String(offset), 'content-length': String(end - offset) },
          body,
        });
        await r.body.dump();
        t.is(r.statusCode, 204);
        offset = Number(r.headers['upload-offset']);
        t.is(offset, end);
      }
      const upSeconds = (Date.now() - started) / 1000;
      const up = watch.phase();
      const r = await request(c.headers.location, { dispatcher: agent });
      const got = createHash('sha256');
      let n = 0;
      for await (const chunk of r.body) {
        got.update(chunk as Buffer);
        n += (chunk as Buffer).length;
      }
      const down = watch.phase();
      watch.stop();
      t.is(r.statusCode, 200);
      t.is(n, SIZE);
      t.is(got.digest('hex'), sent.digest('hex'));
      t.log(`upload ${(SIZE / 1e6 / upSeconds).toFixed(0)} MB/s (chunks and completion)`);
      for (const [phase, rise] of Object.entries({ upload: up, download: down })) {
        for (const [proc, bytes] of Object.entries(rise)) {
          t.log(`${phase} ${proc}: +${(bytes / MiB).toFixed(1)} MiB`);
          t.true(bytes <= LIMIT, `${phase}: ${proc} grew ${(bytes / MiB).toFixed(1)} MiB`);
        }
      }
    } finally {
      await d.stop();
      truncateSync(file, 0);
    }
  });
}

bigSuite('all-in-one', (env) => startAllInOne(env));
bigSuite('distributed', (env) => startDistributed({ gateways: 2, env }));
