import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync, openSync, writeSync, fsyncSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { startAllInOne, type Deployment } from '../helpers/deploy.js';
import { assertSurvived, eventually, readyFile, sha256, token, upload } from '../helpers/fixtures.js';
import { Proc } from '../helpers/proc.js';
import { tempDir } from '../helpers/tmp.js';

// A power cut, not a process crash: the data directory is on lossyfs (test/helpers/lossyfs.py), a
// FUSE file system that keeps written data in its own memory until the file is fsynced. Killing it
// loses every unsynced byte, as a power cut loses the page cache (SIGKILL of our processes alone
// would not: the kernel keeps what they wrote). Everything acknowledged must survive it.

const LOSSYFS = fileURLToPath(new URL('../helpers/lossyfs.py', import.meta.url));
let backing = '';
let mnt = '';
let fs: Proc | undefined;

const mounted = () =>
  readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .some((l) => l.split(' ')[1] === mnt);

async function mount(): Promise<void> {
  fs = new Proc('lossyfs', '/usr/bin/python3', [LOSSYFS, backing, mnt], join(backing, '..', 'lossyfs.log'));
  if (!(await eventually(mounted, 10_000, 50))) throw new Error(`lossyfs did not mount: ${fs.log()}`);
}

/** The power cut: the file system process dies with what it had not synced. */
async function cut(): Promise<void> {
  await fs?.kill();
  execFileSync('fusermount', ['-u', '-z', mnt]);
}

test.before(async () => {
  const dir = tempDir('fs-powercut-');
  backing = join(dir, 'backing');
  mnt = join(dir, 'mnt');
  mkdirSync(backing);
  mkdirSync(mnt);
  await mount();
});

test.after.always(async () => {
  if (mnt && mounted()) await cut();
});

test.serial('the file system really loses unsynced writes (else the next test proves nothing)', async (t) => {
  writeFileSync(join(mnt, 'unsynced.txt'), 'gone after the cut');
  const fd = openSync(join(mnt, 'synced.txt'), 'w');
  writeSync(fd, 'kept');
  fsyncSync(fd);
  closeSync(fd);
  await cut();
  await mount();
  t.is(readFileSync(join(mnt, 'synced.txt'), 'utf8'), 'kept');
  t.is(readFileSync(join(mnt, 'unsynced.txt'), 'utf8'), '', 'an unsynced write survived the cut');
});

test.serial('everything acknowledged survives a power cut: uploads (inline and file), session files, tokens', async (t) => {
  t.true(existsSync('/dev/fuse'), 'FUSE is available');
  let d: Deployment | undefined;
  try {
    d = await startAllInOne({ FILESHARE_DATA_DIR: join(mnt, 'data'), FILESHARE_HTTP_TLS_ENABLED: 'false' });
    const base = d.gateways[0];
    const acked: { url: string; sha: string }[] = [];
    for (const size of [10, 4096, 60_000, 200_000, 1_500_000]) {
      const content = Buffer.alloc(size, size % 251);
      const r = await upload(base, d.user, content, { name: `u${size}.bin` });
      t.is(r.status, 201);
      acked.push({ url: `/uploads/${r.json.id}`, sha: sha256(content) });
    }
    const tokens: { url: string; sha: string }[] = [];
    for (const size of [3000, 700_000]) {
      const content = Buffer.alloc(size, 7);
      const { sid, fid } = await readyFile(base, d.user, content);
      const tk = await token(base, d.user, sid, fid);
      t.is(tk.status, 201);
      tokens.push({ url: `/sessions/${sid}/files/${fid}/tokens/${tk.json.id}`, sha: sha256(content) });
    }
    const last = await upload(base, d.user, 'acknowledged right before the cut');
    t.is(last.status, 201);
    acked.push({ url: `/uploads/${last.json.id}`, sha: sha256('acknowledged right before the cut') });

    // Power cut: processes and unsynced data gone at once; then "reboot".
    await Promise.all([...d.procs.values()].map((p) => p.kill()));
    await cut();
    await mount();
    await d.crashAndRestart();

    await assertSurvived(t, base, acked, tokens);
  } finally {
    await d?.stop();
  }
});
