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
  d = await startDistributed({ gateways: 2, natsLagMs: { gateway2: LAG_MS, tokens1: LAG_MS } });
});
test.after.always(async () => d?.stop());

test.serial('a gateway that hears events late serves no upload it kept once its delete was answered', async (t) => {
  const [A, B] = d.gateways;
  for (let round = 0; round < 3; round++) {
    const id = (await upload(A, ALICE, `round ${round}`)).json.id as string;
    // B keeps the record (its second GET is answered from memory).
    for (let i = 0; i < 2; i++) t.is((await http(`${B}/uploads/${id}`)).status, 200);
    t.is((await http(`${A}/uploads/${id}`, { method: 'DELETE', auth: ALICE })).status, 204);
    const after = await http(`${B}/uploads/${id}`);
    t.is(after.status, 404, `round ${round}`);
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
