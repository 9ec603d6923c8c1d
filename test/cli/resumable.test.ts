import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { CLI, startAllInOne, type Deployment } from '../helpers/deploy.js';
import { eventually, sha256 } from '../helpers/fixtures.js';
import { http } from '../helpers/http.js';
import { tempDir } from '../helpers/tmp.js';

/** The CLI's resumable uploads: --resumable, an interrupted upload continued with --resume, a session file, refusals. */
const run = promisify(execFile);
let d: Deployment;
let dir: string;
let env: Record<string, string>;
const stateFile = () => join(dir, 'state', 'fileshare', 'uploads.json');
const saved = (): Record<string, { url: string }> => (existsSync(stateFile()) ? JSON.parse(readFileSync(stateFile(), 'utf8')) : {});

test.before(async () => {
  d = await startAllInOne();
  dir = tempDir('fs-resumable-cli-');
  env = {
    ...process.env,
    HOME: dir,
    XDG_STATE_HOME: join(dir, 'state'),
    FILESHARE_URL: d.gateways[0],
    FILESHARE_USER: d.user[0],
    FILESHARE_PASSWORD: d.user[1],
    FILESHARE_INSECURE: 'true',
  };
});
test.after.always(async () => d?.stop());

const cli = (args: string[]) =>
  run(process.execPath, [CLI, ...args], { env, cwd: dir }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );

test.serial('upload --resumable goes up in chunks; the URL downloads the same bytes; the state entry goes', async (t) => {
  const file = join(dir, 'chunks.bin');
  const data = randomBytes(700_000);
  writeFileSync(file, data);
  const up = await cli(['upload', file, '--resumable', '--chunk-size', '200000', '--json']);
  t.is(up.code, 0, up.stderr);
  const res = JSON.parse(up.stdout);
  t.regex(res.url, /\/uploads\/[0-9a-f-]{36}$/);
  const got = await http(res.url);
  t.is(sha256(got.body), sha256(data));
  t.regex(got.headers['content-disposition'], /chunks\.bin/);
  t.deepEqual(saved(), {}, 'a finished upload leaves no state');
});

test.serial('an upload killed mid-way continues with --resume from the acknowledged offset, same URL', async (t) => {
  const file = join(dir, 'big.bin');
  const data = randomBytes(48 * 1024 * 1024);
  writeFileSync(file, data);
  const child = spawn(process.execPath, [CLI, 'upload', file, '--resumable', '--chunk-size', String(512 * 1024)], { env, cwd: dir, stdio: 'ignore' });
  const exited = new Promise((r) => child.on('exit', r));
  let url = '';
  let offset = 0;
  const headOffset = async () => Number((await http(url, { method: 'HEAD', auth: d.user, headers: { 'tus-resumable': '1.0.0' } })).headers['upload-offset']);
  t.true(
    await eventually(
      async () => {
        url = Object.values(saved())[0]?.url ?? '';
        return url !== '' && (offset = await headOffset()) >= 4 * 512 * 1024;
      },
      20_000,
      10,
    ),
    'some chunks acknowledged',
  );
  child.kill('SIGKILL');
  await exited;
  const at = await headOffset();
  t.true(at < data.length, `killed before the end (offset ${at} of ${data.length}; seen ${offset})`);
  const again = await cli(['upload', '--resume', file]);
  t.is(again.code, 0, again.stderr);
  t.is(again.stdout.trim(), url, 'the same upload, continued');
  t.is(sha256((await http(url)).body), sha256(data));
  t.deepEqual(saved(), {});
});

test.serial('--resume of a file that changed is refused; of an unknown one starts afresh; session put --resumable', async (t) => {
  const file = join(dir, 'changing.bin');
  writeFileSync(file, randomBytes(1000));
  const s = JSON.parse((await cli(['session', 'create', '--json'])).stdout);
  // Fake an interrupted upload of this file: an entry whose file then changes.
  const c = await http(`${d.gateways[0]}/uploads`, { method: 'POST', auth: d.user, headers: { 'tus-resumable': '1.0.0', 'upload-length': '1000' } });
  const st = { url: c.headers.location, server: d.gateways[0], size: 1000, mtimeMs: 1 };
  writeFileSync(stateFile(), JSON.stringify({ [file]: st }));
  const changed = await cli(['upload', '--resume', file]);
  t.is(changed.code, 2);
  t.regex(changed.stderr, /changed since its upload was interrupted/);
  utimesSync(file, new Date(1), new Date(1));
  const resumed = await cli(['upload', '--resume', file]);
  t.is(`${resumed.code} ${resumed.stdout.trim()}`, `0 ${c.headers.location}`, 'unchanged: continued');

  const fresh = join(dir, 'fresh.txt');
  writeFileSync(fresh, 'never started\n');
  const started = await cli(['upload', '--resume', fresh]);
  t.is(started.code, 0, started.stderr);
  t.regex(started.stderr, /no interrupted upload/);
  t.is((await http(started.stdout.trim())).body.toString(), 'never started\n');

  const photo = join(dir, 'photo.png');
  const bytes = randomBytes(300_000);
  writeFileSync(photo, bytes);
  const put = await cli(['session', 'put', s.id, photo, '--resumable', '--chunk-size', '100000', '--json']);
  t.is(put.code, 0, put.stderr);
  t.like(JSON.parse(put.stdout), { state: 'ready', size: bytes.length, sha256: sha256(bytes), contentType: 'image/png' });
  t.is((await cli(['upload', file, '--chunk-size', '0'])).code, 2);
});

test.serial('an upload that is gone is reported and forgotten', async (t) => {
  const file = join(dir, 'gone.bin');
  writeFileSync(file, randomBytes(2000));
  const c = await http(`${d.gateways[0]}/uploads`, { method: 'POST', auth: d.user, headers: { 'tus-resumable': '1.0.0', 'upload-length': '2000' } });
  await http(c.headers.location, { method: 'DELETE', auth: d.user, headers: { 'tus-resumable': '1.0.0' } });
  const { mtimeMs } = await import('node:fs').then((fs) => fs.statSync(file));
  writeFileSync(stateFile(), JSON.stringify({ [file]: { url: c.headers.location, server: d.gateways[0], size: 2000, mtimeMs } }));
  const r = await cli(['upload', '--resume', file]);
  t.is(r.code, 4);
  t.regex(r.stderr, /gone/);
  t.deepEqual(saved(), {});
});
