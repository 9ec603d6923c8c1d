/**
 * A standalone gateway on the fs blobs' volume reads downloads from it (blob.fs.gatewayReads);
 * one told not to streams them through storage. Both serve the same bytes, ranges and 404s.
 */
import { randomBytes } from 'node:crypto';
import test from 'ava';
import { startDistributed, type Deployment } from '../helpers/deploy.js';
import { sha256, upload } from '../helpers/fixtures.js';
import { http } from '../helpers/http.js';

let d: Deployment;
test.before(async () => {
  d = await startDistributed({ gateways: 2, processEnv: { gateway2: { FILESHARE_BLOB_FS_GATEWAY_READS: 'false' } } });
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
