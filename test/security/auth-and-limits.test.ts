import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import test from 'ava';
import { startAllInOne, type Deployment } from '../helpers/deploy.js';
import { ALICE, readyFile, token, upload } from '../helpers/fixtures.js';
import { basic, http } from '../helpers/http.js';

const run = promisify(execFile);
let d: Deployment;

test.before(async () => {
  d = await startAllInOne({ FILESHARE_AUTH_MAX_FAILURES: '5', FILESHARE_AUTH_FAILURE_WINDOW: '60', FILESHARE_HTTP_TRUST_PROXY: 'true' });
});
test.after.always(async () => d?.stop());

const as = (ip: string, auth: string) => http(`${d.gateways[0]}/sessions`, { headers: { authorization: auth, 'x-forwarded-for': ip } });

test.serial('failed authentication is throttled per client address and per user: 429 with Retry-After', async (t) => {
  for (let i = 0; i < 5; i++) t.is((await as('10.0.0.1', basic('mallory', `guess${i}`))).status, 401);
  const blocked = await as('10.0.0.1', basic('mallory', 'guess6'));
  t.is(blocked.status, 429);
  t.is(blocked.json.message, 'too many failed authentication attempts');
  const wait = Number(blocked.headers['retry-after']);
  t.true(wait > 0 && wait <= 60);
  // Per user: the same user from elsewhere is blocked too; another user from elsewhere is not.
  t.is((await as('10.0.0.2', basic('mallory', 'x'))).status, 429);
  t.is((await as('10.0.0.3', basic(...d.user))).status, 200);
  // A blocked address is refused even a cached credential (a right guess must not answer 200)...
  t.is((await as('10.0.0.1', basic(...d.user))).status, 429);
  // ...while the user keeps working from where their credential was checked.
  t.is((await as('10.0.0.3', basic(...d.user))).status, 200);
});

test.serial('no timing oracle: an unknown user, a wrong password and the fixed user’s wrong password cost the same', async (t) => {
  const time = async (auth: string, ip: string) => {
    const t0 = performance.now();
    const r = await as(ip, auth);
    t.is(r.status, 401);
    return performance.now() - t0;
  };
  const unknown: number[] = [];
  const wrong: number[] = [];
  const fixed: number[] = [];
  for (let i = 0; i < 4; i++) {
    // under auth.maxFailures (5 here): later tests log in as these users
    unknown.push(await time(basic(`nobody${i}`, 'pw'), `10.1.0.${i}`));
    wrong.push(await time(basic(ALICE[0], `wrong${i}`), `10.2.0.${i}`));
    fixed.push(await time(basic(d.user[0], `wrong${i}`), `10.3.0.${i}`));
  }
  const med = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  t.log(`median unknown user ${med(unknown).toFixed(1)} ms, users-file user ${med(wrong).toFixed(1)} ms, fixed user ${med(fixed).toFixed(1)} ms`);
  for (const [name, xs] of [
    ['users-file user', wrong],
    ['fixed user', fixed],
  ] as const) {
    t.true(med(xs) > 20, `${name}: a password check is a slow hash`);
    // The oracle this guards against is an order of magnitude (a fixed user's wrong password cost
    // ~9 ms, an unknown user ~200 ms); a factor of 3 leaves room for a busy 2-core machine, where
    // the niced hash thread waits for the CPU by turns.
    const ratio = med(unknown) / med(xs);
    t.true(ratio > 1 / 3 && ratio < 3, `${name}: same cost as an unknown user (ratio ${ratio.toFixed(2)})`);
  }
});

test.serial('downloads cannot become XSS: attachment, nosniff, strict CSP, even for HTML and hostile names', async (t) => {
  const up = await upload(d.gateways[0], d.user, '<script>alert(1)</script>', { name: 'x.html"; filename="evil.html', type: 'text/html' });
  const r = await http(`${d.gateways[0]}/uploads/${up.json.id}`);
  t.regex(r.headers['content-disposition'], /^attachment; /);
  t.is(r.headers['x-content-type-options'], 'nosniff');
  t.regex(r.headers['content-security-policy'], /default-src 'none'; sandbox/);
  t.is(r.headers['content-disposition'].match(/"/g)?.length, 2, 'one quoted filename, nothing injected');
  const { sid, fid } = await readyFile(d.gateways[0], d.user, '<svg onload=alert(1)>');
  const tk = await token(d.gateways[0], d.user, sid, fid);
  const r2 = await http(`${d.gateways[0]}/sessions/${sid}/files/${fid}/tokens/${tk.json.id}`);
  t.regex(r2.headers['content-security-policy'], /sandbox/);
  t.is(r2.headers['cache-control'], 'no-store');
});

test.serial('concurrent uploads per user are limited with a clear error', async (t) => {
  const e = await startAllInOne({ FILESHARE_LIMITS_MAX_UPLOADS_PER_USER: '2' });
  try {
    const { Readable } = await import('node:stream');
    const { request } = await import('undici');
    const { agent } = await import('../helpers/http.js');
    const slow = () =>
      new Readable({
        read() {
          setTimeout(() => this.push(this.readableLength > 1e9 ? null : Buffer.alloc(1024)), 50);
        },
      });
    const mk = async () => {
      const sid = (await http(`${e.gateways[0]}/sessions`, { method: 'POST', auth: e.user })).json.id;
      return (await http(`${e.gateways[0]}/sessions/${sid}/files`, { method: 'POST', auth: e.user, headers: { 'content-type': 'application/json' }, body: '{"name":"s"}' })).json.id
        ? `${e.gateways[0]}/sessions/${sid}/files/` + (await http(`${e.gateways[0]}/sessions/${sid}/files`, { auth: e.user })).json[0].id
        : '';
    };
    const controllers = [new AbortController(), new AbortController()];
    const urls = [await mk(), await mk(), await mk()];
    const inflight = controllers.map((c, i) =>
      request(urls[i], { method: 'PUT', dispatcher: agent, signal: c.signal, headers: { authorization: basic(...e.user) }, body: slow() }).catch(() => undefined),
    );
    await new Promise((r) => setTimeout(r, 500));
    const third = await http(urls[2], { method: 'PUT', auth: e.user, body: 'x' });
    t.is(third.status, 429);
    t.is(third.json.message, 'too many concurrent uploads');
    controllers.forEach((c) => c.abort());
    await Promise.all(inflight);
  } finally {
    await e.stop();
  }
});

/**
 * Whether a TLS handshake with the given version flag completes: any protocol and a real cipher
 * (not "(NONE)"). The client allows every cipher and security level (`DEFAULT@SECLEVEL=0`), so
 * that a refusal can only come from the server (Debian's openssl refuses TLS < 1.2 on its own).
 */
const handshake = (port: number | string, flag: string) =>
  run('sh', ['-c', `echo | openssl s_client -connect 127.0.0.1:${port} ${flag} -cipher 'DEFAULT@SECLEVEL=0' 2>&1`], { timeout: 10_000 }).then(
    (r) => /New, TLSv[\d.]+, Cipher is (?!\(NONE\))\S+/.test(r.stdout),
    (e: { stdout?: string }) => /New, TLSv[\d.]+, Cipher is (?!\(NONE\))\S+/.test(e.stdout ?? ''),
  );

test.serial('TLS: 1.2 and 1.3 only; the probe sees a legacy handshake where a server allows one', async (t) => {
  const port = new URL(d.roots[0]).port;
  t.true(await handshake(port, '-tls1_2'), 'TLS 1.2 accepted');
  t.true(await handshake(port, '-tls1_3'), 'TLS 1.3 accepted');
  t.false(await handshake(port, '-tls1_1'), 'TLS 1.1 refused');
  t.false(await handshake(port, '-tls1'), 'TLS 1.0 refused');
  // The control: the same probe against a server that allows TLS 1.0/1.1 must see them complete,
  // or the two refusals above prove nothing.
  const { createServer } = await import('node:tls');
  const { readFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const legacy = createServer(
    { key: readFileSync(join(d.dataDir, 'tls', 'key.pem')), cert: readFileSync(join(d.dataDir, 'tls', 'cert.pem')), minVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' },
    (s) => s.end(),
  );
  await new Promise<void>((r) => legacy.listen(0, '127.0.0.1', r));
  try {
    const lport = (legacy.address() as { port: number }).port;
    t.true(await handshake(lport, '-tls1_1'), 'the probe detects an accepted TLS 1.1 handshake');
    t.true(await handshake(lport, '-tls1'), 'the probe detects an accepted TLS 1.0 handshake');
  } finally {
    legacy.close();
  }
});

test.serial('secrets never reach the logs', async (t) => {
  await upload(d.gateways[0], d.user, 'log me not');
  const { sid, fid } = await readyFile(d.gateways[0], d.user, 'secret');
  const tk = await token(d.gateways[0], d.user, sid, fid);
  await http(`${d.gateways[0]}/sessions/${sid}/files/${fid}/tokens/${tk.json.id}`);
  await http(`${d.gateways[0]}/sessions/${sid}/files/${fid}/tokens/${tk.json.id}`); // an error line for a token path
  await new Promise((r) => setTimeout(r, 300));
  const logs = d.logs();
  for (const secret of [d.user[1], ALICE[1], basic(...d.user), basic(...ALICE).slice(6), tk.json.id]) t.false(logs.includes(secret), `log contains ${secret.slice(0, 6)}…`);
  t.regex(logs, /tokens\/:token: message=token already used, status=410/);
});
