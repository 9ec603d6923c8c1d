import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { CLI, startAllInOne, type Deployment } from '../helpers/deploy.js';
import { sha256 } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/tmp.js';

const run = promisify(execFile);
let d: Deployment;
let dir: string;
let env: Record<string, string>;

test.before(async () => {
  d = await startAllInOne();
  dir = tempDir('fs-client-');
  env = { ...process.env, HOME: dir, FILESHARE_URL: d.gateways[0], FILESHARE_USER: d.user[0], FILESHARE_PASSWORD: d.user[1], FILESHARE_INSECURE: 'true' };
});
test.after.always(async () => d?.stop());

const cli = (args: string[], extra: Record<string, string> = {}) =>
  run(process.execPath, [CLI, ...args], { env: { ...env, ...extra }, cwd: dir }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );

test('upload prints the URL; download saves the bytes under the server’s name', async (t) => {
  const file = join(dir, 'report.txt');
  writeFileSync(file, 'client bytes\n');
  const up = await cli(['upload', file, '--ttl', '120']);
  t.is(up.code, 0, up.stderr);
  const url = up.stdout.trim();
  t.regex(url, /\/rtc\/fileshare\/uploads\/[0-9a-f-]{36}$/);
  const out = mkdtempSync(join(dir, 'dl-'));
  const dl = await run(process.execPath, [CLI, 'download', url], { env, cwd: out });
  t.is(dl.stdout.trim(), 'report.txt');
  t.is(readFileSync(join(out, 'report.txt'), 'utf8'), 'client bytes\n');
  t.false(up.stdout.includes(d.user[1]) || up.stderr.includes(d.user[1]), 'the password is never printed');
});

test('session create, session put, token, download -o, with --json', async (t) => {
  const file = join(dir, 'photo.png');
  writeFileSync(file, Buffer.alloc(5000, 9));
  const s = JSON.parse((await cli(['session', 'create', '--json'])).stdout);
  t.regex(s.id, /^[0-9a-f-]{36}$/);
  const put = await cli(['session', 'put', s.id, file, '--json']);
  t.is(put.code, 0, put.stderr);
  const f = JSON.parse(put.stdout);
  t.like(f, { state: 'ready', size: 5000, contentType: 'image/png', name: 'photo.png' });
  const tk = JSON.parse((await cli(['token', s.id, f.id, '--json'])).stdout);
  const target = join(dir, 'got.png');
  const dl = await cli(['download', tk.url, '-o', target, '--json']);
  t.is(dl.code, 0);
  t.deepEqual(JSON.parse(dl.stdout), { file: target, bytes: 5000, sha256: sha256(Buffer.alloc(5000, 9)), verified: true });
  t.is(sha256(readFileSync(target)), sha256(Buffer.alloc(5000, 9)));
  const again = await cli(['download', tk.url, '-o', target]);
  t.is(again.code, 4, 'a used token: exit 4');
  t.regex(again.stderr, /410: token already used/);
});

test('exit codes scripts can rely on; --help everywhere', async (t) => {
  t.is((await cli(['upload', join(dir, 'missing')])).code, 2);
  t.is((await cli(['upload'])).code, 2);
  t.is((await cli(['session', 'create'], { FILESHARE_PASSWORD: 'wrong' })).code, 3);
  t.is((await cli(['download', `${d.gateways[0]}/uploads/4b0e6f3e-1d2c-4a4b-9c8d-7e6f5a4b3c2d`])).code, 4);
  t.is((await cli(['session', 'create', '--ttl', 'soon'])).code, 2);
  t.is((await cli(['upload', join(dir, 'x')], { FILESHARE_URL: 'https://127.0.0.1:1/rtc/fileshare' })).code, 2, 'usage is checked before the network');
  const net = await cli(['session', 'create'], { FILESHARE_URL: 'https://127.0.0.1:1/rtc/fileshare' });
  t.is(net.code, 1);
  t.regex(net.stderr, /cannot reach/);
  for (const cmd of ['start', 'cluster', 'user', 'config', 'upload', 'session', 'token', 'download']) {
    const h = await cli([cmd, '--help']);
    t.is(h.code, 0, cmd);
    t.true(h.stdout.startsWith(`fileshare ${cmd}`), cmd);
  }
});

test('credentials from ~/.config/fileshare/client.json', async (t) => {
  const home = tempDir('fs-home-');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(join(home, '.config/fileshare'), { recursive: true });
  writeFileSync(join(home, '.config/fileshare/client.json'), JSON.stringify({ url: d.gateways[0], user: d.user[0], password: d.user[1], insecure: true }));
  const r = await run(process.execPath, [CLI, 'session', 'create'], { env: { PATH: process.env.PATH!, HOME: home } });
  t.regex(r.stdout.trim(), /^[0-9a-f-]{36}$/);
});

test('docs/configuration.md is the current generated reference', async (t) => {
  const r = await cli(['config', 'docs']);
  t.is(r.stdout, readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8'), 'run: node cli/bin/fileshare.js config docs > docs/configuration.md');
});

test('download never overwrites without --force, never writes a dot-file or outside the directory', async (t) => {
  const out = mkdtempSync(join(dir, 'dl-safe-'));
  writeFileSync(join(out, '.bashrc'), 'mine');
  const { upload } = await import('../helpers/fixtures.js');
  for (const hostile of ['.bashrc', '../../escape.txt', '..\\..\\win.txt', '\u202Egpj.exe']) {
    const up = await upload(d.gateways[0], d.user, `from the sender: ${hostile}`, { name: hostile });
    t.is(up.status, 201, hostile);
    const dl = await run(process.execPath, [CLI, 'download', up.json.url.replace(/^https:\/\/[^/]+/, new URL(d.gateways[0]).origin)], { env, cwd: out }).then((r) =>
      r.stdout.trim(),
    );
    t.false(dl.startsWith('.') || dl.includes('/') || dl.includes('\u202E'), `${JSON.stringify(hostile)} saved as ${JSON.stringify(dl)}`);
    t.is(readFileSync(join(out, dl), 'utf8'), `from the sender: ${hostile}`);
  }
  t.is(readFileSync(join(out, '.bashrc'), 'utf8'), 'mine', 'the dot-file is untouched');
  const { readdirSync } = await import('node:fs');
  t.deepEqual(
    readdirSync(join(out, '..')).filter((f) => f.includes('escape') || f.includes('win')),
    [],
    'nothing written outside',
  );

  // An existing file is kept unless --force.
  const up = await upload(d.gateways[0], d.user, 'second version', { name: 'bashrc' });
  const url = up.json.url.replace(/^https:\/\/[^/]+/, new URL(d.gateways[0]).origin);
  const refused = await run(process.execPath, [CLI, 'download', url], { env, cwd: out }).catch((e: { code: number; stderr: string }) => e);
  t.is((refused as { code: number }).code, 2);
  t.regex((refused as { stderr: string }).stderr, /exists; not overwritten \(pass --force/);
  t.is(readFileSync(join(out, 'bashrc'), 'utf8'), 'from the sender: .bashrc');
  await run(process.execPath, [CLI, 'download', url, '--force'], { env, cwd: out });
  t.is(readFileSync(join(out, 'bashrc'), 'utf8'), 'second version');
  t.deepEqual(
    readdirSync(out).filter((f) => f.endsWith('.part')),
    [],
    'no temp file left',
  );
});

test('a one-time token is not spent on a download that cannot be written', async (t) => {
  const file = join(dir, 'once.bin');
  writeFileSync(file, Buffer.alloc(3000, 4));
  const s = JSON.parse((await cli(['session', 'create', '--json'])).stdout);
  const f = JSON.parse((await cli(['session', 'put', s.id, file, '--json'])).stdout);
  const tk = JSON.parse((await cli(['token', s.id, f.id, '--json'])).stdout);
  const bad = await cli(['download', tk.url, '-o', join(dir, 'no-such-dir', 'x.bin')]);
  t.is(bad.code, 1);
  t.regex(bad.stderr, /cannot write/);
  const good = await cli(['download', tk.url, '-o', join(dir, 'once-got.bin')]);
  t.is(good.code, 0, `the token still works: ${good.stderr}`);
  t.is(sha256(readFileSync(join(dir, 'once-got.bin'))), sha256(Buffer.alloc(3000, 4)));
});

test('curl-style options: --user NAME:PASSWORD, -u, -k, --ttl=N; unknown options are refused', async (t) => {
  const file = join(dir, 'opts.txt');
  writeFileSync(file, 'opts');
  const bare = { FILESHARE_USER: '', FILESHARE_PASSWORD: '', FILESHARE_INSECURE: '' };
  const long = await cli(['upload', file, '--user', d.user.join(':'), '--insecure', '--ttl=77', '--json'], bare);
  t.is(long.code, 0, long.stderr);
  t.is(JSON.parse(long.stdout).ttl, 77);
  const short = await cli(['upload', '-k', '-u', d.user.join(':'), file, '--json'], bare);
  t.is(short.code, 0, short.stderr);
  for (const wrong of [['--tll', '60'], ['--ttl'], ['--insecure=yes'], ['-x']]) {
    const r = await cli(['upload', file, ...wrong]);
    t.is(r.code, 2, wrong.join(' '));
  }
  // A self-signed certificate is named, and the way to accept it.
  const strict = await cli(['session', 'create'], { FILESHARE_INSECURE: '' });
  t.is(strict.code, 1);
  t.regex(strict.stderr, /does not trust[^\n]*--insecure/);
});

test('a wrong password on a large upload is a 401 (exit 3), not a broken pipe', async (t) => {
  const file = join(dir, 'large.bin');
  writeFileSync(file, Buffer.alloc(48 * 1024 * 1024, 1));
  for (let i = 0; i < 3; i++) {
    const r = await cli(['upload', file], { FILESHARE_PASSWORD: `wrong${i}` });
    t.is(r.code, 3, r.stderr);
    t.regex(r.stderr, /401: invalid credentials/);
  }
});

test('a download whose HEAD is refused for any reason but "gone" never sends the GET that would spend the token', async (t) => {
  // A stand-in for a proxy without HEAD, or a gateway answering 503 to it: a GET would succeed.
  const { createServer } = await import('node:http');
  let gets = 0;
  for (const headStatus of [405, 503, 500]) {
    const srv = createServer((req, res) => {
      if (req.method === 'GET') gets++;
      if (req.method === 'HEAD') return void res.writeHead(headStatus).end();
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-disposition': 'attachment; filename="x.bin"' }).end('spent');
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(srv.address() as { port: number }).port}/rtc/fileshare/sessions/s/files/f/tokens/t`;
    const r = await cli(['download', url, '-o', join(dir, `never-${headStatus}.bin`)]);
    srv.close();
    t.not(r.code, 0, `HEAD ${headStatus}`);
    t.regex(r.stderr, new RegExp(`${headStatus}:`));
  }
  t.is(gets, 0, 'no GET was sent');
});
