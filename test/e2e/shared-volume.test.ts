/**
 * A standalone gateway on the fs blobs' volume reads downloads from it (blob.fs.gatewayReads) and
 * writes large uploads and resumable chunks onto it (blob.fs.gatewayWrites); one told not to
 * streams both through storage. Both serve the same bytes, ranges and 404s; bytes a killed gateway
 * left are removed, or cut back by the next append.
 */
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { startDistributed, type Deployment } from '../helpers/deploy.js';
import { eventually, filesUnder, fsBlobs, newSession, sha256, token, upload } from '../helpers/fixtures.js';
import { basic, http } from '../helpers/http.js';

let d: Deployment;
test.before(async () => {
  d = await startDistributed({
    gateways: 2,
    // Bytes never recorded are removed 2 s after their first byte (the killed gateway below).
    env: { FILESHARE_EXPIRY_ORPHAN_GRACE: '2' },
    processEnv: { gateway2: { FILESHARE_BLOB_FS_GATEWAY_READS: 'false', FILESHARE_BLOB_FS_GATEWAY_WRITES: 'false' } },
  });
});
test.after.always(async () => d?.stop());

/** One gateway's count of downloads read from `from`. */
async function reads(gateway: number, from: 'volume' | 'storage'): Promise<number> {
  const r = await http(`${d.roots[gateway]}/metrics`, { auth: d.user });
  const m = new RegExp(`^fileshare_blob_reads_total\\{from="${from}"\\} (\\d+)$`, 'm').exec(r.text);
  return m ? Number(m[1]) : 0;
}

test.serial('downloads read from the shared volume or through storage: the same bytes, ranges and 404 after a delete', async (t) => {
  const big = randomBytes(3 * 1024 * 1024 + 11);
  const up = await upload(d.gateways[0], d.user, big, { name: 'big.bin', type: 'application/octet-stream' });
  t.is(up.status, 201);
  const before = [await reads(0, 'volume'), await reads(0, 'storage'), await reads(1, 'volume'), await reads(1, 'storage')];
  for (const g of [0, 1]) {
    const url = `${d.gateways[g]}/uploads/${up.json.id}`;
    const whole = await http(url);
    t.is(whole.status, 200);
    t.is(sha256(whole.body), sha256(big), `gateway ${g + 1}: whole`);
    const part = await http(url, { headers: { range: 'bytes=1048570-2097160' } });
    t.is(part.status, 206);
    t.true(part.body.equals(big.subarray(1048570, 2097161)), `gateway ${g + 1}: range`);
  }
  const after = [await reads(0, 'volume'), await reads(0, 'storage'), await reads(1, 'volume'), await reads(1, 'storage')];
  t.deepEqual(
    after.map((n, i) => n - before[i]),
    [2, 0, 0, 2],
    'gateway 1 read the volume twice, gateway 2 asked storage twice',
  );
  t.is((await http(`${d.gateways[0]}/uploads/${up.json.id}`, { method: 'DELETE', auth: d.user })).status, 204);
  for (const g of [0, 1]) t.is((await http(`${d.gateways[g]}/uploads/${up.json.id}`)).status, 404, `gateway ${g + 1}: deleted`);
});

/** One gateway's count of new blobs written to `to`. */
async function writes(gateway: number, to: 'volume' | 'storage'): Promise<number> {
  const r = await http(`${d.roots[gateway]}/metrics`, { auth: d.user });
  const m = new RegExp(`^fileshare_blob_writes_total\\{to="${to}"\\} (\\d+)$`, 'm').exec(r.text);
  return m ? Number(m[1]) : 0;
}

test.serial('large uploads are written onto the volume by a gateway that shares it, through storage by one told not to: the same records and bytes', async (t) => {
  // Its first probe may have met storage still starting: it probes again soon.
  const shared = async () => /^fileshare_blob_volume_shared 1$/m.test((await http(`${d.roots[0]}/metrics`, { auth: d.user })).text);
  t.true(await eventually(shared, 20_000), 'gateway 1 found that storage sees its files');
  const before = [await writes(0, 'volume'), await writes(0, 'storage')];
  for (const g of [0, 1]) {
    const base = d.gateways[g];
    const form = randomBytes(2 * 1024 * 1024 + 7);
    const up = await upload(base, d.user, form, { name: 'form.bin' });
    t.is(up.status, 201, up.text);
    t.is(up.json.sha256, sha256(form));
    const raw = randomBytes(3 * 1024 * 1024 + 1);
    const sid = await newSession(base, d.user);
    const f = await http(`${base}/sessions/${sid}/files`, { method: 'POST', auth: d.user, headers: { 'content-type': 'application/json' }, body: '{"name":"raw.bin"}' });
    const put = await http(`${base}/sessions/${sid}/files/${f.json.id}`, { method: 'PUT', auth: d.user, body: raw });
    t.is(put.status, 200, put.text);
    t.is(put.json.sha256, sha256(raw));
    // Either gateway serves either upload, whole.
    for (const h of [0, 1]) {
      t.is(sha256((await http(`${d.gateways[h]}/uploads/${up.json.id}`)).body), sha256(form), `written by gateway ${g + 1}, read by ${h + 1}`);
      const tok = await token(d.gateways[h], d.user, sid, f.json.id);
      t.is(sha256((await http(tok.json.url)).body), sha256(raw), `session file by gateway ${g + 1}, read by ${h + 1}`);
    }
  }
  t.deepEqual([(await writes(0, 'volume')) - before[0], (await writes(0, 'storage')) - before[1]], [2, 0], 'gateway 1 wrote both onto the volume');
  t.deepEqual([await writes(1, 'volume'), await writes(1, 'storage')], [0, 0], 'gateway 2 has no volume: storage got its bytes');
  t.deepEqual(filesUnder(join(d.dataDir, 'tmp')), [], 'no temp file or probe left');
});

test.serial('a gateway killed in the middle of an upload it writes onto the volume: its bytes are removed, and it takes uploads again once back', async (t) => {
  const tmp = join(d.dataDir, 'tmp');
  const blobsBefore = fsBlobs(d.dataDir).length;
  // A chunked form (length unknown: written onto the volume), never finished.
  const url = new URL(`${d.gateways[0]}/uploads`);
  const boundary = 'cutboundary';
  const req = request({
    host: url.hostname,
    port: url.port,
    path: url.pathname,
    method: 'POST',
    headers: { authorization: basic(...d.user), 'content-type': `multipart/form-data; boundary=${boundary}`, 'transfer-encoding': 'chunked' },
  });
  req.on('error', () => undefined);
  req.write(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="cut.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`);
  req.write(randomBytes(2 * 1024 * 1024));
  t.true(await eventually(() => filesUnder(tmp).some((f) => f.endsWith('.part'))), 'the gateway is writing a temp file');
  await d.procs.get('gateway1')!.kill();
  req.destroy();
  t.true(filesUnder(tmp).length > 0, 'a killed gateway leaves its temp file');
  t.true(await eventually(() => filesUnder(tmp).length === 0 && fsBlobs(d.dataDir).length === blobsBefore, 20_000), `left: ${filesUnder(tmp).join(', ')}`);

  await d.restart('gateway1');
  // Once its first probe is answered, it writes onto the volume again.
  const again = async () => (await upload(d.gateways[0], d.user, randomBytes(1024 * 1024 + 3))).status === 201 && (await writes(0, 'volume')) > 0;
  t.true(await eventually(again, 10_000, 300), 'a new upload written onto the volume');
});

test.serial(
  'a gateway killed in the middle of a resumable chunk it appends onto the volume: the offset stays where it was acknowledged, and the other gateway resumes once the lock lapses',
  async (t) => {
    const shared = async () => /^fileshare_blob_volume_shared 1$/m.test((await http(`${d.roots[0]}/metrics`, { auth: d.user })).text);
    t.true(await eventually(shared, 20_000), 'gateway 1 appends onto the volume');
    const tus = { 'tus-resumable': '1.0.0' };
    const octets = { ...tus, 'content-type': 'application/offset+octet-stream' };
    const data = randomBytes(4 * 1024 * 1024 + 13);
    const first = 1024 * 1024 + 5;
    const created = await http(`${d.gateways[0]}/uploads`, { method: 'POST', auth: d.user, headers: { ...tus, 'upload-length': String(data.length) } });
    t.is(created.status, 201, created.text);
    const path = new URL(created.headers.location).pathname.replace(/^\/rtc\/fileshare/, '');
    const before = await writes(0, 'volume');
    const one = await http(`${d.gateways[0]}${path}`, { method: 'PATCH', auth: d.user, headers: { ...octets, 'upload-offset': '0' }, body: data.subarray(0, first) });
    t.is(one.status, 204, one.text);
    t.is((await writes(0, 'volume')) - before, 1, 'the chunk was appended on the volume');

    // The second chunk, cut by the gateway's death after some of its bytes are on the volume.
    const url = new URL(`${d.gateways[0]}${path}`);
    const req = request({
      host: url.hostname,
      port: url.port,
      path: url.pathname,
      method: 'PATCH',
      headers: { authorization: basic(...d.user), ...octets, 'upload-offset': String(first), 'content-length': String(data.length - first) },
    });
    req.on('error', () => undefined);
    req.write(data.subarray(first, first + 2 * 1024 * 1024));
    const growing = () => filesUnder(join(d.dataDir, 'tmp')).some((f) => f.endsWith('.part') && (statSync(f, { throwIfNoEntry: false })?.size ?? 0) > first);
    t.true(await eventually(growing), 'the gateway is appending');
    await d.procs.get('gateway1')!.kill();
    req.destroy();

    const other = `${d.gateways[1]}${path}`;
    t.is((await http(other, { method: 'HEAD', auth: d.user, headers: tus })).headers['upload-offset'], String(first), 'the acknowledged offset');
    // Locked until the dead gateway's lease lapses; then the rest goes in from the acknowledged offset.
    let last = 0;
    const resumed = async () => {
      last = (await http(other, { method: 'PATCH', auth: d.user, headers: { ...octets, 'upload-offset': String(first) }, body: data.subarray(first) })).status;
      return last === 204;
    };
    t.true(await eventually(resumed, 20_000, 500), `last answer ${last}`);
    const got = await http(`${d.gateways[1]}${path}`);
    t.is(got.status, 200);
    t.is(sha256(got.body), sha256(data), 'the cut bytes were cut back');
    await d.restart('gateway1');
  },
);
