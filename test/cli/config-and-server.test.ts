import { execFile } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { INTERNAL_SECRET_HEADER } from '@fileshare/shared';
import { CLI, startAllInOne } from '../helpers/deploy.js';
import { redisConfig } from '../helpers/engines.js';
import { eventually, upload } from '../helpers/fixtures.js';
import { http, multipart } from '../helpers/http.js';
import { tempDir } from '../helpers/tmp.js';
import { freePort } from '../helpers/ports.js';
import { Proc } from '../helpers/proc.js';

const run = promisify(execFile);
const cli = (args: string[], env: Record<string, string> = {}) =>
  run(process.execPath, [CLI, ...args], { env: { ...process.env, FILESHARE_CONFIG: '', ...env } }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );

test('misspelt FILESHARE_* variables: config check fails naming them, a server warns; errors say "fileshare:" once', async (t) => {
  const bad = await cli(['config', 'check'], { FILESHARE_HTTP_PROT: '1446', FILESHARE_LIMITS_MAX_FILESIZE: '5' });
  t.is(bad.code, 2);
  t.regex(bad.stderr, /^fileshare: invalid config: unknown environment variables FILESHARE_HTTP_PROT, FILESHARE_LIMITS_MAX_FILESIZE\n/);
  const ok = await cli(['config', 'check'], { FILESHARE_URL: 'https://x', FILESHARE_USER: 'u', FILESHARE_INSECURE: 'true' });
  t.is(ok.code, 0, `the client's own variables are known: ${ok.stderr}`);
  const start = await cli(['start', 'all'], { FILESHARE_HTTP_PORT: 'abc' });
  t.is(start.code, 2);
  t.is(start.stderr, 'fileshare: invalid config: http.port (FILESHARE_HTTP_PORT) must be an integer, got "abc"\n');
  const dir = tempDir('fs-warn-');
  const port = await freePort();
  const p = new Proc('warn', process.execPath, [CLI, 'start', 'all'], join(dir, 'warn.log'), {
    FILESHARE_DATA_DIR: dir,
    FILESHARE_HTTP_PORT: String(port),
    FILESHARE_SIMPLE_UPLOAD_AUTHENTICATION_USERNAME: 'u',
    FILESHARE_SIMPLE_UPLOAD_AUTHENTICATION_PASSWORD: 'p',
    FILESHARE_CONFIG: '',
    FILESHARE_EXPIRY_INTERVALL: '5',
  });
  try {
    t.true(await eventually(() => /gateway listening/.test(p.log()), 15_000));
    t.regex(p.log(), /fileshare: warning: ignoring unknown environment variable FILESHARE_EXPIRY_INTERVALL/);
  } finally {
    await p.stop();
  }
});

test('config check prints the effective config with secrets masked', async (t) => {
  const r = await cli(['config', 'check'], {
    FILESHARE_SIMPLE_UPLOAD_AUTHENTICATION_USERNAME: 'foo',
    FILESHARE_SIMPLE_UPLOAD_AUTHENTICATION_PASSWORD: 'bar-secret',
    FILESHARE_MODELS_UPLOAD_TTL: '120',
  });
  t.is(r.code, 0);
  const cfg = JSON.parse(r.stdout);
  t.is(cfg['models.upload.ttl'], 120);
  t.is(cfg['simpleUpload.authentication.password'], '********');
  t.false(r.stdout.includes('bar-secret'));
});

test('invalid config stops with one line naming the key, exit 2', async (t) => {
  const dir = tempDir('fs-cfg-');
  const cases: [Record<string, string>, string[], RegExp][] = [
    [{ FILESHARE_MODELS_UPLOAD_TTL: 'abc' }, ['config', 'check'], /FILESHARE_MODELS_UPLOAD_TTL.*integer|models\.upload\.ttl/],
    [{ FILESHARE_HTTP_PORT: '70000' }, ['start', 'all'], /http\.port/],
    [{ FILESHARE_STORE_KIND: 'mysql' }, ['start', 'all'], /store\.kind/],
    [{ FILESHARE_HTTP_BASE_PATH: 'rtc/' }, ['start', 'all'], /http\.basePath/],
  ];
  for (const [env, args, re] of cases) {
    const r = await cli(args, { FILESHARE_DATA_DIR: dir, ...env });
    t.is(r.code, 2, JSON.stringify(env));
    t.regex(r.stderr, re);
  }
  const file = join(dir, 'bad.yml');
  writeFileSync(file, 'models:\n  upload:\n    tll: 5\n');
  const r = await cli(['config', 'check', file]);
  t.is(r.code, 2);
  t.regex(r.stderr, /unknown key models\.upload\.tll/);
  writeFileSync(file, 'models:\n  upload:\n    ttl: 5\nsimpleUpload:\n  authentication:\n    enabled: false\n');
  const ok = await cli(['config', 'check', file]);
  t.is(ok.code, 0);
  t.is(JSON.parse(ok.stdout)['models.upload.ttl'], 5);
});

test('a dependency that is not there fails the start fast with a clear line', async (t) => {
  const dir = tempDir('fs-dep-');
  const port = await freePort();
  const started = Date.now();
  const r = await cli(['start', 'tokens'], { FILESHARE_DATA_DIR: dir, FILESHARE_BUS_KIND: 'local' });
  t.is(r.code, 1);
  t.regex(r.stderr, /needs bus\.kind=nats/);
  const tls = await cli(['start', 'all'], {
    FILESHARE_DATA_DIR: dir,
    FILESHARE_HTTP_PORT: String(port),
    FILESHARE_HTTP_TLS_KEY_FILE: '/nonexistent/key.pem',
    FILESHARE_HTTP_TLS_CERT_FILE: '/nonexistent/cert.pem',
    FILESHARE_SIMPLE_UPLOAD_AUTHENTICATION_USERNAME: 'u',
    FILESHARE_SIMPLE_UPLOAD_AUTHENTICATION_PASSWORD: 'p',
  });
  t.is(tls.code, 1);
  t.regex(tls.stderr, /TLS files not found: \/nonexistent\/key\.pem/);
  t.true(Date.now() - started < 20_000);
  // A key that does not belong to the certificate.
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'), '-days', '1', '-subj', '/CN=x']);
  const { generateKeyPairSync } = await import('node:crypto');
  const other = join(dir, 'other-key.pem');
  writeFileSync(other, generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
  const good = await cli(['start', 'all'], {
    FILESHARE_DATA_DIR: dir,
    FILESHARE_HTTP_PORT: String(port),
    FILESHARE_SIMPLE_UPLOAD_AUTHENTICATION_USERNAME: 'u',
    FILESHARE_SIMPLE_UPLOAD_AUTHENTICATION_PASSWORD: 'p',
    FILESHARE_HTTP_TLS_KEY_FILE: other,
    FILESHARE_HTTP_TLS_CERT_FILE: join(dir, 'c.pem'),
  });
  t.is(good.code, 1);
  t.regex(good.stderr, /does not match certificate/);
  writeFileSync(join(dir, 'garbage.pem'), 'not a certificate');
  const bad = await cli(['start', 'all'], {
    FILESHARE_DATA_DIR: dir,
    FILESHARE_HTTP_PORT: String(port),
    FILESHARE_SIMPLE_UPLOAD_AUTHENTICATION_USERNAME: 'u',
    FILESHARE_SIMPLE_UPLOAD_AUTHENTICATION_PASSWORD: 'p',
    FILESHARE_HTTP_TLS_KEY_FILE: other,
    FILESHARE_HTTP_TLS_CERT_FILE: join(dir, 'garbage.pem'),
  });
  t.is(bad.code, 1);
  t.regex(bad.stderr, /TLS certificate unreadable/);
});

test('a port in use fails the start with a clear line; the server on it keeps every new connection', async (t) => {
  // uWS listens with SO_REUSEPORT by default: a second server on the port started, and the kernel
  // split new connections between the two (each answering 404 for the other's uploads).
  const first = await startAllInOne({ FILESHARE_HTTP_TLS_ENABLED: 'false' });
  try {
    const port = new URL(first.roots[0]).port;
    const up = await upload(first.gateways[0], first.user, 'kept by the first server');
    t.is(up.status, 201);
    const second = await run(process.execPath, [CLI, 'start', 'all'], {
      env: {
        ...process.env,
        FILESHARE_CONFIG: '',
        FILESHARE_DATA_DIR: tempDir('fs-second-'),
        FILESHARE_HTTP_HOST: '127.0.0.1',
        FILESHARE_HTTP_PORT: port,
        FILESHARE_HTTP_TLS_ENABLED: 'false',
        FILESHARE_SIMPLE_UPLOAD_AUTHENTICATION_USERNAME: 'u',
        FILESHARE_SIMPLE_UPLOAD_AUTHENTICATION_PASSWORD: 'p',
      },
      timeout: 20_000,
    }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number | null; signal?: string; stderr: string }) => ({ code: e.code ?? e.signal, stderr: e.stderr }),
    );
    t.is(second.code, 1, 'the second server did not stop by itself');
    t.regex(second.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}`));
    // Each download on a new connection: all reach the first server.
    for (let i = 0; i < 10; i++) {
      const r = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', up.json.url]);
      t.is(r.stdout, '200');
    }
  } finally {
    await first.stop();
  }
});

test('user add/list/remove keep a hashed users file; the first start creates admin once', async (t) => {
  const dir = tempDir('fs-users-');
  const env = { FILESHARE_DATA_DIR: dir, FILESHARE_NEW_PASSWORD: 'a-long-password' };
  t.is((await cli(['user', 'add', 'carol'], env)).code, 0);
  const file = readFileSync(join(dir, 'users.json'), 'utf8');
  t.false(file.includes('a-long-password'));
  t.regex(file, /"hash": "scrypt\$/);
  t.is((await cli(['user', 'list'], env)).stdout, 'carol\n');
  t.is((await cli(['user', 'add', 'bad name'], env)).code, 1);
  t.is((await cli(['user', 'remove', 'carol'], env)).code, 0);
  t.is((await cli(['user', 'remove', 'carol'], env)).code, 1);
  t.is((await cli(['nonsense'])).code, 2);
  t.is((await cli(['--help'])).code, 0);

  const port = await freePort();
  const p = new Proc('first', process.execPath, [CLI, 'start', 'all'], join(dir, 'first.log'), {
    FILESHARE_DATA_DIR: dir,
    FILESHARE_HTTP_PORT: String(port),
    FILESHARE_HTTP_HOST: '127.0.0.1',
    FILESHARE_CONFIG: '',
  });
  try {
    t.true(await eventually(() => /password: (\S+)/.test(p.log()), 15_000));
    const password = /password: (\S+)/.exec(p.log())![1];
    t.true(await eventually(async () => (await http(`https://127.0.0.1:${port}/healthz`).catch(() => ({ status: 0 }))).status === 200, 15_000));
    const mp = multipart([{ name: 'file', value: 'hi', filename: 'hi.txt' }]);
    const r = await http(`https://127.0.0.1:${port}/rtc/fileshare/uploads`, {
      method: 'POST',
      auth: ['admin', password],
      headers: { 'content-type': mp.contentType },
      body: mp.body,
    });
    t.is(r.status, 201);
    const jsonLog = p
      .log()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .join('\n');
    t.false(jsonLog.includes(password), 'the password is not in the JSON log');
  } finally {
    t.is(await p.stop(), 0, 'SIGTERM exits 0');
  }
});

test('fileshare cluster runs the distributed mode locally and stops it on SIGTERM', async (t) => {
  const dir = tempDir('fs-cluster-');
  const [nats, redis, http1, storage, tokens, expiry] = await Promise.all(Array.from({ length: 6 }, () => freePort()));
  const env = {
    FILESHARE_CONFIG: '',
    FILESHARE_HTTP_HOST: '127.0.0.1',
    FILESHARE_SIMPLE_UPLOAD_AUTHENTICATION_USERNAME: 'foo',
    FILESHARE_SIMPLE_UPLOAD_AUTHENTICATION_PASSWORD: 'bar',
  };
  const log = join(dir, 'cluster.log');
  const ports = { '--nats-port': nats, '--redis-port': redis, '--http-port': http1, '--storage-port': storage, '--tokens-port': tokens, '--expiry-port': expiry };
  const p = new Proc('cluster', process.execPath, [CLI, 'cluster', '--data-dir', dir, ...Object.entries(ports).flatMap(([k, v]) => [k, String(v)])], log, env);
  try {
    t.true(await eventually(async () => (await http(`https://127.0.0.1:${http1}/readyz`).catch(() => ({ status: 0 }))).status === 200, 30_000), p.log().slice(-2000));
    const mp = multipart([{ name: 'file', value: 'cluster bytes', filename: 'c.txt' }]);
    const up = await http(`https://127.0.0.1:${http1}/rtc/fileshare/uploads`, { method: 'POST', auth: ['foo', 'bar'], headers: { 'content-type': mp.contentType }, body: mp.body });
    t.is(up.status, 201);
    t.is((await http(up.json.url.replace('localhost', '127.0.0.1'))).text, 'cluster bytes');
    // The data plane is not open to any local process: a secret was generated at first start.
    t.is((statSync(join(dir, 'internal-secret')).mode & 0o777).toString(8), '600');
    t.is((await http(`http://127.0.0.1:${storage}/blobs/${up.json.id}`)).status, 403);
    t.is(
      (await http(`http://127.0.0.1:${storage}/blobs/${up.json.id}`, { headers: { [INTERNAL_SECRET_HEADER]: readFileSync(join(dir, 'internal-secret'), 'utf8').trim() } })).status,
      200,
    );
    t.is(await redisConfig(redis, 'appendfsync'), 'always', "the cluster's Redis fsyncs every write (README)");
    t.regex(p.log(), /fileshare cluster: ready at https:\/\/127\.0\.0\.1:\d+\/rtc\/fileshare/);
  } finally {
    t.is(await p.stop('SIGTERM', 30_000), 0);
  }
  // Every child is gone: each port refuses connections (probed from Node: /bin/sh here has no /dev/tcp).
  for (const [name, port] of Object.entries(ports)) t.is(await probe(port), 'refused', `${name} ${port} still open`);
});

/** 'open' when something accepts a connection on 127.0.0.1:port, 'refused' when nothing listens. */
/** 'open', 'refused', or the connection error's code. */
function probe(port: number): Promise<string> {
  return new Promise((r) => {
    const s = createConnection(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), r('open')));
    s.once('error', (err: NodeJS.ErrnoException) => r(err.code === 'ECONNREFUSED' ? 'refused' : String(err.code)));
  });
}

test('logs: JSON lines by default (not a terminal), pino-pretty when log.pretty=true', async (t) => {
  const json = await cli(['config', 'check'], { FILESHARE_LOG_PRETTY: 'sometimes' });
  t.is(json.code, 2);
  t.regex(json.stderr, /log\.pretty/);
  const dir = tempDir('fs-pretty-');
  const port = await freePort();
  for (const [pretty, re] of [
    ['true', /INFO.*gateway listening/],
    ['auto', /^\{"level":30,.*"msg":"gateway listening/m],
  ] as const) {
    const p = new Proc('pretty', process.execPath, [CLI, 'start', 'all'], join(dir, `${pretty}.log`), {
      FILESHARE_DATA_DIR: dir,
      FILESHARE_HTTP_PORT: String(port),
      FILESHARE_LOG_PRETTY: pretty,
      FILESHARE_SIMPLE_UPLOAD_AUTHENTICATION_USERNAME: 'u',
      FILESHARE_SIMPLE_UPLOAD_AUTHENTICATION_PASSWORD: 'p',
      FILESHARE_CONFIG: '',
    });
    t.true(await eventually(() => /gateway listening/.test(p.log()), 15_000));
    t.regex(p.log(), re);
    await p.stop();
  }
});
