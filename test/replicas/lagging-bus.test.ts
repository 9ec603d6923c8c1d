/**
 * Records kept from other services must not outlive a delete whose answer a client has seen, even
 * when the event that names it reaches a process late. Here gateway2 and tokens1 hear NATS 150 ms
 * late (laggingLink), far longer than a client takes to hear a 204 and ask again.
 */
import test from 'ava';
import { startDistributed, type Deployment } from '../helpers/deploy.js';
import { http } from '../helpers/http.js';
import { ALICE, readyFile, token, upload } from '../helpers/fixtures.js';

const LAG_MS = 150;
let d: Deployment;
test.before(async () => {
  d = await startDistributed({ gateways: 2, natsLagMs: { gateway2: LAG_MS, tokens1: LAG_MS }, env: { FILESHARE_CACHE_RECORD_MAX_AGE: '1' } });
});
test.after.always(async () => d?.stop());

test.serial('a gateway that hears events late serves no upload it kept once its delete was answered', async (t) => {
  const [A, B] = d.gateways;
  for (let round = 0; round < 3; round++) {
    const id = (await upload(A, ALICE, `round ${round}`)).json.id as string;
    // B keeps the record (its second GET is answered from memory).
    for (let i = 0; i < 2; i++) t.is((await http(`${B}/uploads/${id}`)).status, 200);
    t.is((await http(`${A}/uploads/${id}`, { method: 'DELETE', auth: ALICE })).status, 204);
    const after = await Promise.all([http(`${B}/uploads/${id}`), http(`${B}/uploads/${id}`, { method: 'HEAD' })]);
    t.deepEqual(
      after.map((r) => r.status),
      [404, 404],
      `round ${round}`,
    );
  }
});

test.serial('a request joining a read begun before the delete does not take its answer', async (t) => {
  const [A, B] = d.gateways;
  for (let round = 0; round < 3; round++) {
    const id = (await upload(A, ALICE, `join ${round}`)).json.id as string;
    // B serves it once (keeping its record and its bytes), then trusts the record no longer
    // (cache.recordMaxAge: 1 s) while the bytes stay: the next GET reads the record again.
    t.is((await http(`${B}/uploads/${id}`)).status, 200);
    await new Promise((r) => setTimeout(r, 1100));
    // That read's answer (200) reaches B only LAG_MS later. Meanwhile A deletes, and a second GET
    // reaches B while the read is in flight: it must not take the read's answer.
    const first = http(`${B}/uploads/${id}`);
    await new Promise((r) => setTimeout(r, LAG_MS / 3));
    t.is((await http(`${A}/uploads/${id}`, { method: 'DELETE', auth: ALICE })).status, 204);
    t.is((await http(`${B}/uploads/${id}`)).status, 404, `round ${round}: answered from a read that predates the delete`);
    t.true([200, 404].includes((await first).status)); // it overlapped the delete: either is right
  }
});

test.serial('a tokens service that hears events late answers no link to a file deleted before it was asked', async (t) => {
  const A = d.gateways[0];
  for (let round = 0; round < 2; round++) {
    const f = await readyFile(A, d.user, `round ${round}`);
    const path = (id: string) => `/sessions/${f.sid}/files/${f.fid}/tokens/${id}`;
    const ids = [(await token(A, d.user, f.sid, f.fid)).json.id as string, (await token(A, d.user, f.sid, f.fid)).json.id as string];
    t.is((await http(`${A}${path(ids[0])}`)).status, 200); // tokens1 keeps the file
    t.is((await http(`${A}/sessions/${f.sid}/files/${f.fid}`, { method: 'DELETE', auth: d.user })).status, 204);
    const after = await Promise.all([http(`${A}${path(ids[1])}`), token(A, d.user, f.sid, f.fid)]);
    t.deepEqual(
      after.map((r) => r.status),
      [404, 404],
      `round ${round}`,
    );
  }
});
