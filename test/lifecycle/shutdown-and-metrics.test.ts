import { Readable } from 'node:stream';
import test from 'ava';
import { request } from 'undici';
import { startAllInOne, startDistributed, type Deployment } from '../helpers/deploy.js';
import { eventually, sha256, sleep, storedBlobs, token, upload } from '../helpers/fixtures.js';
import { agent, basic, http } from '../helpers/http.js';

/** A body that trickles `total` bytes over about `ms`. */
function slowBody(total: number, ms: number): Readable {
  const steps = 20;
  const chunk = Buffer.alloc(Math.ceil(total / steps), 5);
  let i = 0;
  return new Readable({
    read() {
      if (i++ >= steps) return void this.push(null);
      setTimeout(() => this.push(chunk.subarray(0, Math.min(chunk.length, total - (i - 1) * chunk.length))), ms / steps);
    },
  });
}

/** Whether a new TCP connection to 127.0.0.1:port is accepted or refused. */
/** 'accepted', 'refused', or the connection error's code. */
async function connectOutcome(port: number): Promise<string> {
  const { connect } = await import('node:net');
  return new Promise((r) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), r('accepted')));
    s.once('error', (err: NodeJS.ErrnoException) => r(err.code === 'ECONNREFUSED' ? 'refused' : String(err.code)));
  });
}

async function newFile(d: Deployment): Promise<string> {
  const base = d.gateways[0];
  const sid = (await http(`${base}/sessions`, { method: 'POST', auth: d.user })).json.id;
  const fid = (await http(`${base}/sessions/${sid}/files`, { method: 'POST', auth: d.user, headers: { 'content-type': 'application/json' }, body: '{"name":"slow.bin"}' })).json.id;
  return `${base}/sessions/${sid}/files/${fid}`;
}

function shutdownSuite(label: string, start: (env: Record<string, string>) => Promise<Deployment>, gatewayName: string) {
  test.serial(`${label}: SIGTERM lets an in-flight upload finish, then exits 0`, async (t) => {
    const d = await start({ FILESHARE_SHUTDOWN_DEADLINE: '10' });
    try {
      const url = await newFile(d);
      const total = 2 * 1024 * 1024;
      const put = request(url, { method: 'PUT', dispatcher: agent, headers: { authorization: basic(...d.user), 'content-length': String(total) }, body: slowBody(total, 1500) });
      await sleep(400);
      const started = Date.now();
      const exit = d.procs.get(gatewayName)!.stop('SIGTERM', 20_000);
      // Draining: the upload goes on, but the port no longer takes new connections.
      const port = Number(new URL(d.gateways[0]).port);
      t.true(await eventually(async () => (await connectOutcome(port)) === 'refused', 2000, 20), 'new connections are refused while draining');
      const r = await put;
      const body = (await r.body.json()) as { state: string; sha256: string; id: string };
      t.is(r.statusCode, 200);
      t.is(body.state, 'ready');
      t.is(body.sha256, sha256(Buffer.alloc(total, 5)), 'the finished upload holds every byte sent');
      t.is(await exit, 0);
      t.true(Date.now() - started < 10_000);
      // And it is stored so: after a restart its bytes download with that sha256.
      await d.restart(gatewayName);
      const [sid, fid] = url.split('/sessions/')[1].split('/files/');
      const tk = await token(d.gateways[0], d.user, sid, fid);
      t.is(sha256((await http(`${d.gateways[0]}/sessions/${sid}/files/${fid}/tokens/${tk.json.id}`)).body), sha256(Buffer.alloc(total, 5)));
    } finally {
      await d.stop();
    }
  });

  test.serial(`${label}: an upload still running at the shutdown deadline is cut and leaves nothing`, async (t) => {
    const d = await start({ FILESHARE_SHUTDOWN_DEADLINE: '1' });
    try {
      const kept = await upload(d.gateways[0], d.user, 'kept');
      const before = storedBlobs(d).length;
      const url = await newFile(d);
      const total = 4 * 1024 * 1024;
      const put = request(url, {
        method: 'PUT',
        dispatcher: agent,
        headers: { authorization: basic(...d.user), 'content-length': String(total) },
        body: slowBody(total, 8000),
      }).then(
        (r) => r.statusCode,
        () => 'cut',
      );
      await sleep(500);
      const started = Date.now();
      const code = await d.procs.get(gatewayName)!.stop('SIGTERM', 20_000);
      const elapsed = Date.now() - started;
      t.is(code, 0);
      t.true(elapsed < 6000, `exited in ${elapsed} ms`);
      t.not(await put, 200);
      if (d.kind === 'distributed') await d.procs.get('storage1')!.stop('SIGTERM', 20_000);
      t.is(storedBlobs(d).length, before, 'no bytes of the cut upload left');
      if (d.kind === 'distributed') await d.restart('storage1');
      await d.restart(gatewayName);
      const r = await http(`${d.gateways[0]}/uploads/${kept.json.id}`);
      t.is(sha256(r.body), sha256('kept'));
    } finally {
      await d.stop();
    }
  });
}

shutdownSuite('all-in-one', (env) => startAllInOne(env), 'all');
shutdownSuite('distributed', (env) => startDistributed({ gateways: 1, env }), 'gateway1');

test.serial('/metrics: Prometheus text with requests, bytes, tokens, bus latency and process metrics', async (t) => {
  const d = await startAllInOne();
  try {
    const up = await upload(d.gateways[0], d.user, 'metrics');
    t.is((await http(`${d.gateways[0]}/uploads/${up.json.id}`)).status, 200);
    t.is((await http(`${d.roots[0]}/metrics`)).status, 401, 'not for anyone who can reach the port');
    const r = await http(`${d.roots[0]}/metrics`, { auth: d.user });
    t.is(r.status, 200);
    t.regex(r.headers['content-type'], /^text\/plain/);
    for (const m of [
      /fileshare_http_requests_total\{route="\/uploads",method="POST",status="201"\} 1/,
      /fileshare_http_request_duration_seconds_bucket\{le="[\d.]+",route="\/uploads",method="POST"\}/,
      /fileshare_bytes_received_total \d+/,
      /fileshare_bus_request_duration_seconds_count\{subject="storage.upload.get"\} 1/,
      /fileshare_uploads_in_flight 0/,
      /fileshare_process_resident_memory_bytes \d+/,
      /fileshare_expiry_sweeps_total \d+/,
    ])
      t.regex(r.text, m);
  } finally {
    await d.stop();
  }
});
