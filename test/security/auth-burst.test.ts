import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { Agent, request } from 'undici';
import { startAllInOne, type Deployment } from '../helpers/deploy.js';
import { ALICE, sha256 } from '../helpers/fixtures.js';
import { basic, multipart } from '../helpers/http.js';

// A burst of bad logins from one address (127.0.0.2: the whole of 127/8 is loopback on Linux)
// while a legitimate user on 127.0.0.1 uploads and downloads. Before the verifier had threads of
// its own and attempts in flight were counted, every one of 250 attempts got 401 and the user's
// 4 KiB upload took 17-25 s (scrypt filled libuv's pool, which the fs blob store needs).

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAX_FAILURES = 10;
let d: Deployment;
let base: string;

test.before(async () => {
  d = await startAllInOne({ FILESHARE_HTTP_TLS_ENABLED: 'false', FILESHARE_AUTH_MAX_FAILURES: String(MAX_FAILURES), FILESHARE_AUTH_FAILURE_WINDOW: '60' });
  base = d.gateways[0];
});
test.after.always(async () => d?.stop());

const from = (address: string, connections = 8) => new Agent({ localAddress: address, connections, keepAliveTimeout: 10_000 });

async function call(agent: Agent, url: string, auth: string, method = 'GET', body?: { body: Buffer; contentType: string }): Promise<{ status: number; json: any; body: Buffer }> {
  const r = await request(url, {
    method: method as 'GET',
    dispatcher: agent,
    headers: { authorization: auth, ...(body ? { 'content-type': body.contentType } : {}) },
    body: body?.body,
  });
  const bytes = Buffer.from(await r.body.arrayBuffer());
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString());
  } catch {
    json = undefined;
  }
  return { status: r.statusCode, json, body: bytes };
}

/** `n` rounds of a 4 KiB upload and its download by ALICE; latencies in ms, sorted. */
async function legitimate(agent: Agent, n: number): Promise<number[]> {
  const auth = basic(...ALICE);
  const lat: number[] = [];
  for (let i = 0; i < n; i++) {
    const content = Buffer.alloc(4096, i);
    const t0 = performance.now();
    const up = await call(agent, `${base}/uploads`, auth, 'POST', multipart([{ name: 'file', value: content, filename: `f${i}.bin` }]));
    if (up.status !== 201) throw new Error(`legitimate upload: ${up.status} ${JSON.stringify(up.json)}`);
    const down = await call(agent, `${base}/uploads/${up.json.id}`, '');
    if (down.status !== 200 || sha256(down.body) !== sha256(content)) throw new Error(`legitimate download: ${down.status}`);
    lat.push(performance.now() - t0);
  }
  return lat.sort((a, b) => a - b);
}
/**
 * A child process that opens `n` connections from 127.0.0.2 and, once told to (`fire`), sends
 * `n` concurrent POST /sessions with random user names and wrong passwords: status counts.
 * Its own process, so that its start and its connections cost this process's clock nothing.
 */
async function attacker(url: string, n: number): Promise<{ fire(): Promise<Record<number, number>> }> {
  const script = `
    import { Agent, request } from 'undici';
    const agent = new Agent({ localAddress: '127.0.0.2', connections: ${n} });
    const target = ${JSON.stringify(url + '/sessions')};
    const statuses = {};
    process.stdout.write('ready\\n');
    process.stdin.once('data', async () => {
      await Promise.all(Array.from({ length: ${n} }, async () => {
        const auth = 'Basic ' + Buffer.from('u' + Math.random().toString(36).slice(2) + ':wrong').toString('base64');
        const r = await request(target, { method: 'POST', dispatcher: agent, headers: { authorization: auth } });
        const body = JSON.parse(await r.body.text());
        if (typeof body.message !== 'string') throw new Error('no JSON error');
        statuses[r.statusCode] = (statuses[r.statusCode] ?? 0) + 1;
      }));
      process.stdout.write(JSON.stringify(statuses) + '\\n');
      process.exit(0);
    });`;
  // Niced: it stands for clients elsewhere; its own CPU on this 2-core box is the test's artefact.
  const child = spawn('nice', ['-n', '10', process.execPath, '--input-type=module', '-e', script], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  if ((await lines.next()).value !== 'ready') throw new Error('attacker did not start');
  return {
    async fire() {
      child.stdin.write('go\n');
      const line = await lines.next();
      clearTimeout(timer);
      if (line.done) throw new Error('attacker died');
      return JSON.parse(line.value) as Record<number, number>;
    },
  };
}

const p99 = (xs: number[]) => xs[Math.min(xs.length - 1, Math.floor(xs.length * 0.99))];

test.serial('a burst of bad logins from one address is throttled as it starts and stalls nobody else', async (t) => {
  const user = from('127.0.0.1', 2);
  try {
    await legitimate(user, 5); // the user's password check is cached from here on
    const idle = await legitimate(user, 150);

    // The attacker is its own process, so that its 250 connections cost this process's clock nothing.
    const burst = (await attacker(base, 250)).fire();
    const attacked = await legitimate(user, 150);
    const statuses = await burst;

    // The floor keeps a quiet machine's 5 ms p99 from turning scheduling noise into a failure.
    const bound = 3 * Math.max(p99(idle), 50);
    t.log(
      `legitimate upload+download p99: idle ${p99(idle).toFixed(1)} ms, under the burst ${p99(attacked).toFixed(1)} ms (bound ${bound.toFixed(0)} ms); attacker got ${JSON.stringify(statuses)}`,
    );
    t.true(p99(attacked) <= bound, `p99 under attack ${p99(attacked).toFixed(1)} ms > ${bound.toFixed(0)} ms`);
    t.is(statuses[401], MAX_FAILURES, 'exactly auth.maxFailures attempts were checked');
    t.is(statuses[429], 250 - MAX_FAILURES, 'the rest were refused before any hash');
  } finally {
    await user.close();
  }
});

test.serial('users-file users are throttled too, and a cached password is no oracle for a blocked address', async (t) => {
  const home = from('127.0.0.1', 2);
  const guesser = from('127.0.0.3', 200);
  const elsewhere = from('127.0.0.4', 2);
  const url = `${base}/sessions`;
  try {
    t.is((await call(home, url, basic(...ALICE))).status, 200, 'alice works and is cached');
    const burst = await Promise.all(Array.from({ length: 199 }, (_, i) => call(guesser, url, basic(ALICE[0], `guess${i}`))));
    const count = (s: number) => burst.filter((r) => r.status === s).length;
    t.is(count(401), MAX_FAILURES);
    t.is(count(429), 199 - MAX_FAILURES);
    // The right password from the guessing address: refused like any guess, though it is cached.
    const right = await call(guesser, url, basic(...ALICE));
    t.is(right.status, 429);
    t.true(Number((await request(url, { dispatcher: guesser, headers: { authorization: basic(...ALICE) } })).headers['retry-after']) > 0);
    // From an address alice never used, while her name is blocked: refused too.
    t.is((await call(elsewhere, url, basic(...ALICE))).status, 429);
    // From where alice already works: she is not locked out by somebody guessing at her name.
    t.is((await call(home, url, basic(...ALICE))).status, 200);
  } finally {
    await Promise.all([home.close(), guesser.close(), elsewhere.close()]);
  }
});

test.serial('the verifier queue is bounded: past it, 503 with Retry-After, and the server keeps serving', async (t) => {
  const e = await startAllInOne({ FILESHARE_HTTP_TLS_ENABLED: 'false', FILESHARE_AUTH_HASH_QUEUE: '4', FILESHARE_AUTH_MAX_FAILURES: '1000' });
  // Many addresses, each under the throttle: only the queue can refuse them.
  const agents = Array.from({ length: 40 }, (_, i) => from(`127.0.1.${i + 1}`, 2));
  try {
    const rs = await Promise.all(
      agents.map((a, i) =>
        request(`${e.gateways[0]}/sessions`, { dispatcher: a, headers: { authorization: basic(`x${i}`, 'y') } }).then(async (r) => ({
          status: r.statusCode,
          retry: r.headers['retry-after'],
          body: await r.body.text(),
        })),
      ),
    );
    const busy = rs.filter((r) => r.status === 503);
    t.log(`${rs.filter((r) => r.status === 401).length} checked (401), ${busy.length} refused (503)`);
    t.true(busy.length >= 40 - 4 - 1 - 1, 'at most queue + threads checks accepted at once');
    t.true(busy.every((r) => r.retry === '1' && JSON.parse(r.body).message === 'too many authentication checks in progress'));
    const ok = await request(`${e.gateways[0]}/sessions`, { headers: { authorization: basic(...e.user) } });
    t.is(ok.statusCode, 200);
    await ok.body.dump();
  } finally {
    await Promise.all(agents.map((a) => a.close()));
    await e.stop();
  }
});
