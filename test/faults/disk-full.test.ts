import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { startAllInOne, startDistributed, type Deployment } from '../helpers/deploy.js';
import { eventually, fsBlobs, newSession, sha256, upload } from '../helpers/fixtures.js';
import { http } from '../helpers/http.js';
import { tempDir } from '../helpers/tmp.js';

// A data directory on a 40 MiB tmpfs: a full disk is the storage's condition, never the client's
// fault (it was answered 400 "malformed multipart body" or 500, and logged nowhere). Both modes:
// all-in-one (the gateway meets ENOSPC in its own process) and distributed (storage meets it and
// answers the gateway over the data plane).

const MiB = 1024 * 1024;
const ENV = { FILESHARE_HTTP_TLS_ENABLED: 'false', FILESHARE_STORAGE_MIN_FREE_BYTES: String(20 * MiB), FILESHARE_BLOB_FS_INLINE_MAX_BYTES: '0' };

function diskFullSuite(label: string, start: (env: Record<string, string>) => Promise<Deployment>) {
  let mountDir = '';
  let d: Deployment;

  test.before(async (t) => {
    mountDir = tempDir('fs-small-disk-');
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=40m', 'tmpfs', mountDir], { stdio: 'pipe' });
    } catch (err) {
      // Only where mounting is impossible (not root): said, and counted as a failure below.
      t.log(`cannot mount a small tmpfs here: ${String((err as { stderr?: Buffer }).stderr ?? err)}`);
      mountDir = '';
      return;
    }
    mkdirSync(join(mountDir, 'data'));
    d = await start({ ...ENV, FILESHARE_DATA_DIR: join(mountDir, 'data') });
  });

  test.after.always(async () => {
    await d?.stop();
    if (mountDir) execFileSync('umount', ['-l', mountDir]);
  });

  test.serial(`${label}: a full disk: 507 with the handbook line, an error log naming it, a metric, nothing left, /readyz not ready, downloads served`, async (t) => {
    t.truthy(mountDir, 'a small filesystem was mounted (needs root)');
    if (!mountDir) return;
    const base = d.gateways[0];
    const root = d.roots[0];
    const dataDir = join(mountDir, 'data');
    t.is((await http(`${root}/readyz`)).status, 200, 'ready with 40 MiB free');

    const first = Buffer.alloc(25 * MiB, 7);
    const kept = await upload(base, d.user, first, { name: 'first.bin' });
    t.is(kept.status, 201);
    const filesBefore = fsBlobs(dataDir).length;

    // Below the floor now: not ready, so a balancer sends uploads elsewhere...
    const notReady = await http(`${root}/readyz`);
    t.is(notReady.status, 503);
    t.is(notReady.json.checks.storage, 'failing');
    // ...and what still comes in gets 507, for a form and for a raw PUT. Distributed: storage closes
    // the data-plane connection when it refuses a body mid-stream, and its 507 is lost under the
    // reset; the gateway answers 503 then (known, in the closing note). Never the client's fault.
    const refused = d.kind === 'all-in-one' ? [507] : [503, 507];
    const second = await upload(base, d.user, Buffer.alloc(25 * MiB, 8), { name: 'second.bin' });
    t.true(refused.includes(second.status), `${second.status} ${second.text}`);
    if (d.kind === 'all-in-one') t.deepEqual(second.json, { message: 'insufficient storage', code: 'insufficient_storage' });
    const sid = await newSession(base, d.user);
    const f = await http(`${base}/sessions/${sid}/files`, { method: 'POST', auth: d.user, headers: { 'content-type': 'application/json' }, body: '{"name":"raw.bin"}' });
    const put = await http(`${base}/sessions/${sid}/files/${f.json.id}`, { method: 'PUT', auth: d.user, body: Buffer.alloc(25 * MiB, 9) });
    t.true(refused.includes(put.status), `${put.status} ${put.text}`);

    // Downloads keep working.
    const back = await http(`${base}/uploads/${kept.json.id}`);
    t.is(back.status, 200);
    t.is(sha256(back.body), sha256(first));

    // The operator learns it: the handbook line, an error naming the cause, a metric.
    const logs = d.logs();
    t.regex(
      logs,
      d.kind === 'all-in-one'
        ? /Error at \/uploads: message=insufficient storage, status=507/
        : /Error at \/uploads: message=(insufficient storage|service unavailable), status=50[37]/,
    );
    t.regex(logs, /"level":50[^\n]*ENOSPC[^\n]*storage full|"level":50[^\n]*storage full[^\n]*ENOSPC/);
    const metrics = (await http(`${root}/metrics`, { auth: d.user })).text;
    // Counted where the disk said no: the all-in-one process; in the distributed mode the storage
    // process (its own port), while the gateway counts its 507 answers.
    if (d.kind === 'all-in-one') t.regex(metrics, /^fileshare_storage_full_total [1-9]/m);
    else t.regex(metrics, /^fileshare_http_requests_total\{route="\/uploads",method="POST",status="50[37]"\} [1-9]/m);

    // Nothing left behind: no temp files, no new blob, the file entry still pending.
    t.true(await eventually(() => readdirSync(join(dataDir, 'tmp')).length === 0), `temp files: ${readdirSync(join(dataDir, 'tmp')).join(', ')}`);
    t.is(fsBlobs(dataDir).length, filesBefore);
    t.is((await http(`${base}/sessions/${sid}/files/${f.json.id}`, { auth: d.user })).json.state, 'pending');

    // Room again: ready again, uploads work.
    t.is((await http(`${base}/uploads/${kept.json.id}`, { method: 'DELETE', auth: d.user })).status, 204);
    t.true(await eventually(async () => (await http(`${root}/readyz`)).status === 200, 10_000), 'ready again once space is freed');
    t.is((await upload(base, d.user, 'small again')).status, 201);
  });
}

diskFullSuite('all-in-one', (env) => startAllInOne(env));
diskFullSuite('distributed', (env) => startDistributed({ gateways: 1, env }));
