/**
 * Two storage replicas on one local fs data directory (the README's "shared local fs volume"):
 * both write blob files and rows of the one blobs.db at the same time.
 */
import { randomBytes } from 'node:crypto';
import test from 'ava';
import { startDistributed, type Deployment } from '../helpers/deploy.js';
import { http } from '../helpers/http.js';
import { ALICE, sha256, storedBlobs, upload } from '../helpers/fixtures.js';

let d: Deployment;
test.before(async () => {
  d = await startDistributed({ gateways: 2, storages: 2, env: { FILESHARE_LIMITS_MAX_UPLOADS_PER_USER: '256' } });
});
test.after.always(async () => d?.stop());

test.serial('concurrent uploads through two gateways and two storage replicas: every byte intact, each blob stored once', async (t) => {
  // Small ones become rows of blobs.db, the 200 KB ones files.
  const files = Array.from({ length: 120 }, (_, i) => randomBytes(i % 10 === 0 ? 200_000 : 100 + i * 53));
  const before = storedBlobs(d).length;
  const ids = await Promise.all(
    files.map(async (f, i) => {
      const r = await upload(d.gateways[i % 2], ALICE, f, { name: `f${i}.bin` });
      t.is(r.status, 201, r.text);
      return r.json.id as string;
    }),
  );
  t.is(storedBlobs(d).length, before + files.length);
  const intact = await Promise.all(ids.map(async (id, i) => sha256((await http(`${d.gateways[(i + 1) % 2]}/uploads/${id}`)).body) === sha256(files[i])));
  t.is(intact.filter(Boolean).length, files.length);
});

test.serial('gateways keep upload records, yet a delete through one is a 404 through the other at once, and expiry a 410', async (t) => {
  const [A, B] = d.gateways;
  // Each round: both gateways have just served it (so both keep its record), then A deletes it and
  // B, asked right after the 204, must not serve it from what it kept.
  for (let round = 0; round < 25; round++) {
    const r = await upload(A, ALICE, `round ${round}`);
    t.is(r.status, 201, r.text);
    const id = r.json.id as string;
    for (const g of [A, B, A, B]) t.is((await http(`${g}/uploads/${id}`)).status, 200);
    t.is((await http(`${A}/uploads/${id}`, { method: 'DELETE', auth: ALICE })).status, 204);
    const after = await Promise.all([http(`${B}/uploads/${id}`), http(`${A}/uploads/${id}`)]);
    t.deepEqual(
      after.map((x) => x.status),
      [404, 404],
      `round ${round}`,
    );
  }
  const short = await upload(A, ALICE, 'short-lived', { ttl: '1' });
  const id = short.json.id as string;
  for (const g of [A, B]) t.is((await http(`${g}/uploads/${id}`)).status, 200);
  await new Promise((r) => setTimeout(r, 1100));
  // Before any expiry sweep ran: the kept record's own expiry time says it is gone.
  for (const g of [A, B]) t.is((await http(`${g}/uploads/${id}`)).status, 410);
});
