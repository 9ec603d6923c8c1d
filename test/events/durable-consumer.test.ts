import test from 'ava';
import { AckPolicy, DeliverPolicy, connect, type NatsConnection } from 'nats';
import { EVENTS } from '@fileshare/shared';
import { startDistributed, type Deployment } from '../helpers/deploy.js';
import { readyFile, token, upload } from '../helpers/fixtures.js';
import { http } from '../helpers/http.js';

/**
 * The event stream as an integrator uses it (docs/events.md): a durable JetStream consumer sees
 * each event once per action, versioned, across a restart of the consumer (what it acked is not
 * sent again; what happened while it was down is).
 */
let d: Deployment;
test.before(async () => {
  d = await startDistributed({ gateways: 1 });
});
test.after.always(async () => d?.stop());

interface Payload {
  v: number;
  id: string;
  uploadId?: string;
}
type Seen = Payload & { subject: string };

/** The documented consumer: durable `integration`, explicit acks, from its first subscription on. */
async function consume(nc: NatsConnection, until: (seen: Seen[]) => boolean): Promise<Seen[]> {
  const jsm = await nc.jetstreamManager();
  await jsm.consumers.add('FILESHARE_EVENTS', { durable_name: 'integration', ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.New }).catch(() => undefined);
  const consumer = await nc.jetstream().consumers.get('FILESHARE_EVENTS', 'integration');
  const seen: Seen[] = [];
  const messages = await consumer.consume();
  const done = (async () => {
    for await (const m of messages) {
      seen.push({ ...m.json<Payload>(), subject: m.subject });
      // Acked before the next one is taken: a consumer that stops now is never sent it again.
      await m.ackAck();
      if (until(seen)) messages.stop();
    }
  })();
  const timer = setTimeout(() => messages.stop(), 15_000);
  await done;
  clearTimeout(timer);
  return seen;
}

const count = (seen: Seen[], subject: string) => seen.filter((s) => s.subject === subject).length;

test('a durable consumer sees each action once, versioned, across its own restart', async (t) => {
  t.timeout(60_000);
  const A = d.gateways[0];
  const url = d.engines.nats!.url;
  // Create the consumer before the first action (DeliverPolicy.New: it sees what happens from now).
  let nc = await connect({ servers: url });
  const jsm = await nc.jetstreamManager();
  await jsm.consumers.add('FILESHARE_EVENTS', { durable_name: 'integration', ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.New });

  // Round 1: an upload stored and deleted; a session, its file, a token issued, delivered, refused.
  const up = await upload(A, d.user, 'events');
  await http(`${A}/uploads/${up.json.id}`, { method: 'DELETE', auth: d.user });
  const f = await readyFile(A, d.user, 'file bytes');
  const tk = await token(A, d.user, f.sid, f.fid);
  const link = `${A}/sessions/${f.sid}/files/${f.fid}/tokens/${tk.json.id}`;
  t.is((await http(link)).status, 200);
  t.is((await http(link)).status, 410);
  const first = await consume(nc, (s) => count(s, EVENTS.tokenRefused) >= 1 && count(s, EVENTS.uploadDeleted) >= 1);
  await nc.close();

  // The consumer is down: round 2 happens meanwhile.
  const up2 = await upload(A, d.user, 'while down');
  await http(`${A}/sessions/${f.sid}`, { method: 'DELETE', auth: d.user });

  nc = await connect({ servers: url });
  const second = await consume(nc, (s) => count(s, EVENTS.sessionDeleted) >= 1 && count(s, EVENTS.uploadStored) >= 1);
  // Nothing more is pending: what was acked is never sent again.
  await new Promise((r) => setTimeout(r, 500));
  const info = await (await nc.jetstreamManager()).consumers.info('FILESHARE_EVENTS', 'integration');
  t.is(info.num_pending + info.num_ack_pending, 0);
  await nc.close();

  const all = [...first, ...second];
  t.true(
    all.every((e) => e.v === 1 && typeof e.id === 'string'),
    'versioned, with ids',
  );
  t.is(new Set(all.map((e) => e.id)).size, all.length, 'no event seen twice');
  const expected: Record<string, number> = {
    [EVENTS.uploadStored]: 2,
    [EVENTS.uploadDeleted]: 1,
    [EVENTS.sessionCreated]: 1,
    [EVENTS.fileStored]: 1,
    [EVENTS.tokenIssued]: 1,
    [EVENTS.tokenDelivered]: 1,
    [EVENTS.tokenRefused]: 1,
    [EVENTS.sessionDeleted]: 1,
  };
  for (const [subject, n] of Object.entries(expected)) t.is(count(all, subject), n, subject);
  t.is(first.find((e) => e.subject === EVENTS.uploadStored)?.uploadId, up.json.id);
  t.is(second.find((e) => e.subject === EVENTS.uploadStored)?.uploadId, up2.json.id, 'the event of round 2, not a repeat of round 1');
  t.true(second.every((e) => !first.some((x) => x.id === e.id)));
});
