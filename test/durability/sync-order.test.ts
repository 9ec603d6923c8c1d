import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { CLI, USER } from '../helpers/deploy.js';
import { eventually, newSession } from '../helpers/fixtures.js';
import { http, multipart } from '../helpers/http.js';
import { freePort } from '../helpers/ports.js';
import { Proc } from '../helpers/proc.js';
import { parseStrace, type Call } from '../helpers/strace.js';
import { tempDir } from '../helpers/tmp.js';

// "A 2xx means durable", checked where SIGKILL cannot see it (the page cache survives a killed
// process): the all-in-one server runs under strace, and for every acknowledged write the system
// calls that make it durable must have returned before the first byte of the answer is sent:
// - a file blob: its data synced (fsync/fdatasync of tmp/<key>.part after its last write), the
//   rename into blobs/xx/<key>, then the fsync of blobs/xx;
// - an inline blob: its row written to fileshare.db-wal (all-in-one keeps small blobs in the
//   record store's file) and that WAL synced;
// - the record: written to fileshare.db-wal and that WAL synced.
// Remove any of those syncs, or answer before them, and this fails. And a 4 KiB simple upload is
// one transaction: bytes, record and expiry entry under a single fsync, with no orphan guard.

const WRITES = new Set(['write', 'writev', 'pwrite64', 'pwritev', 'pwritev2']);
const SYNCS = new Set(['fsync', 'fdatasync']);

let proc: Proc;
let tracePath: string;
let root: string;
let base: string;
let dataDir: string;

test.before(async () => {
  dataDir = tempDir('fs-strace-');
  tracePath = join(dataDir, 'strace.log');
  const port = await freePort();
  root = `http://127.0.0.1:${port}`;
  base = `${root}/rtc/fileshare`;
  proc = new Proc(
    'strace',
    'strace',
    [
      '-f',
      '-qq',
      '-s',
      '48',
      '-e',
      'trace=openat,open,close,write,writev,pwrite64,pwritev,pwritev2,fsync,fdatasync,rename,renameat,renameat2,recvfrom,read,sendto,sendmsg',
      '-o',
      tracePath,
      process.execPath,
      CLI,
      'start',
      'all',
    ],
    join(dataDir, 'server.log'),
    {
      FILESHARE_DATA_DIR: join(dataDir, 'data'),
      FILESHARE_HTTP_PORT: String(port),
      FILESHARE_HTTP_HOST: '127.0.0.1',
      FILESHARE_HTTP_TLS_ENABLED: 'false', // the answer's first bytes must be readable in the trace
      FILESHARE_SIMPLE_UPLOAD_AUTHENTICATION_USERNAME: USER[0],
      FILESHARE_SIMPLE_UPLOAD_AUTHENTICATION_PASSWORD: USER[1],
      FILESHARE_CONFIG: '',
      // No sweep while the requests run: its writes would sync the WAL in their windows too.
      FILESHARE_EXPIRY_INTERVAL: '3600',
    },
  );
  const up = await eventually(async () => (await http(`${root}/readyz`).catch(() => ({ status: 0 }))).status === 200, 30_000);
  if (!up) throw new Error(`server under strace not ready: ${proc.log().slice(-2000)}`);
});

test.after.always(async () => {
  // strace runs the server as its child: stop the server, strace follows it out.
  const pid = proc?.child.pid;
  if (pid) {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    for (const c of children) process.kill(Number(c), 'SIGTERM');
  }
  await proc?.stop('SIGTERM', 15_000);
});

/** The k-th request whose first bytes start with `head` (one of `calls`), and the answer sent on its connection after it. */
function exchange(calls: Call[], head: string, k: number, status: RegExp): { request: Call; answer: Call } {
  const requests = calls.filter((c) => (c.name === 'recvfrom' || c.name === 'read') && c.args.includes(`"${head}`));
  const request = requests[k];
  if (!request) throw new Error(`request ${k} "${head}" not in the trace (${requests.length} found)`);
  const answer = calls.find(
    (c) =>
      (c.name === 'sendto' || c.name === 'sendmsg' || c.name === 'write' || c.name === 'writev') && c.fd === request.fd && c.start > request.end && /"HTTP\/1\.1 /.test(c.args),
  );
  if (!answer) throw new Error(`no answer to request ${k} "${head}"`);
  if (!status.test(answer.args)) throw new Error(`answer to ${head}: ${answer.args.slice(0, 60)}`);
  return { request, answer };
}

/** The last write to a file matching `path` within (from, until), and a sync of it that started after that write and returned before `until`. */
function writtenThenSynced(calls: Call[], path: RegExp, from: number, until: number): { write?: Call; sync?: Call } {
  const writes = calls.filter((c) => WRITES.has(c.name) && path.test(c.path) && c.start > from && c.end < until && !c.ret.startsWith('-1'));
  const write = writes.at(-1);
  if (!write) return {};
  const sync = calls.find((c) => SYNCS.has(c.name) && path.test(c.path) && c.start > write.end && c.end >= 0 && c.end < until && c.ret.startsWith('0'));
  return { write, sync };
}

/** The file-blob steps, in order, before `until`: data synced, renamed into place, directory synced. */
function fileBlobDurable(calls: Call[], from: number, until: number): string[] {
  const problems: string[] = [];
  const rename = calls.find(
    (c) =>
      c.name.startsWith('rename') &&
      /\/tmp\/[0-9a-f-]{36}\.part", "[^"]*\/blobs\/[0-9a-f]{2}\/[0-9a-f-]{36}"/.test(c.args) &&
      c.ret.startsWith('0') &&
      c.start > from &&
      c.end < until,
  );
  if (!rename) return ['no rename of tmp/<key>.part into blobs/ before the answer'];
  const key = /\/blobs\/([0-9a-f]{2})\/([0-9a-f-]{36})"/.exec(rename.args)!;
  const part = new RegExp(`/tmp/${key[2]}\\.part$`);
  const data = writtenThenSynced(calls, part, from, rename.start);
  if (!data.write) problems.push('no write to the blob before its rename');
  else if (!data.sync) problems.push('the blob was renamed before its data was synced');
  const dir = calls.find((c) => SYNCS.has(c.name) && c.path.endsWith(`/blobs/${key[1]}`) && c.start > rename.end && c.end < until && c.ret.startsWith('0'));
  if (!dir) problems.push(`blobs/${key[1]} was not synced after the rename, before the answer`);
  return problems;
}

/**
 * Group commits' syncs of `db`'s WAL that returned between `from` and `until`: those on the thread
 * pool (DurableSqlite). Not SQLite's own on the main thread (the WAL header, when a checkpoint
 * has just emptied the WAL), nor the checkpoint worker's (the thread with its own connection: it
 * opens the file besides the main thread).
 */
function walSyncs(calls: Call[], db: string, from: number, until: number): number {
  const main = calls[0].pid;
  const name = new RegExp(`/${db.replace('.', '\\.')}"`);
  const checkpointer = new Set(calls.filter((c) => c.name === 'openat' && c.pid !== main && name.test(c.args)).map((c) => c.pid));
  const wal = new RegExp(`/${db.replace('.', '\\.')}-wal$`);
  return calls.filter((c) => SYNCS.has(c.name) && wal.test(c.path) && c.pid !== main && !checkpointer.has(c.pid) && c.start > from && c.end < until && c.ret.startsWith('0'))
    .length;
}

function walDurable(calls: Call[], db: string, from: number, until: number): string[] {
  const r = writtenThenSynced(calls, new RegExp(`/${db.replace('.', '\\.')}-wal$`), from, until);
  if (!r.write) return [`nothing written to ${db}-wal before the answer`];
  if (!r.sync) return [`${db}-wal written but not synced before the answer`];
  return [];
}

test.serial('every acknowledged write is synced before the first byte of its answer (strace)', async (t) => {
  const small = multipart([{ name: 'file', value: Buffer.alloc(4096, 1), filename: 'small.bin' }]);
  const large = multipart([{ name: 'file', value: Buffer.alloc(1024 * 1024, 2), filename: 'large.bin' }]);
  const post = (mp: typeof small) => http(`${base}/uploads`, { method: 'POST', auth: USER, headers: { 'content-type': mp.contentType }, body: mp.body });
  // The first one waits out what the process wrote while starting (the first sweep's commit).
  t.is((await post(small)).status, 201);
  await new Promise((r) => setTimeout(r, 300));
  t.is((await post(small)).status, 201);
  t.is((await post(large)).status, 201);
  const sid = await newSession(base, USER);
  const entry = async (name: string) =>
    (await http(`${base}/sessions/${sid}/files`, { method: 'POST', auth: USER, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name }) })).json
      .id as string;
  const bigFile = await entry('big.bin');
  const smallFile = await entry('small.bin');
  t.is((await http(`${base}/sessions/${sid}/files/${bigFile}`, { method: 'PUT', auth: USER, body: Buffer.alloc(1024 * 1024, 3) })).status, 200);
  t.is((await http(`${base}/sessions/${sid}/files/${smallFile}`, { method: 'PUT', auth: USER, body: Buffer.alloc(4096, 4) })).status, 200);
  await new Promise((r) => setTimeout(r, 500)); // strace writes its file as calls return

  const calls = parseStrace(readFileSync(tracePath, 'utf8'));
  const cases: { name: string; head: string; k: number; status: RegExp; checks: (from: number, until: number) => string[] }[] = [
    {
      name: 'simple upload, 4 KiB (inline blob)',
      head: 'POST /rtc/fileshare/uploads',
      k: 1,
      status: /HTTP\/1\.1 201/,
      checks: (f, u) => [
        ...walDurable(calls, 'fileshare.db', f, u),
        ...(walSyncs(calls, 'fileshare.db', f, u) === 1 ? [] : [`${walSyncs(calls, 'fileshare.db', f, u)} syncs of fileshare.db-wal, not one`]),
        ...(existsSync(join(dataDir, 'data', 'blobs.db')) ? ['a blobs.db exists: small blobs belong in fileshare.db'] : []),
      ],
    },
    {
      name: 'simple upload, 1 MiB (file blob)',
      head: 'POST /rtc/fileshare/uploads',
      k: 2,
      status: /HTTP\/1\.1 201/,
      checks: (f, u) => [...fileBlobDurable(calls, f, u), ...walDurable(calls, 'fileshare.db', f, u)],
    },
    { name: 'session created', head: 'POST /rtc/fileshare/sessions ', k: 0, status: /HTTP\/1\.1 201/, checks: (f, u) => walDurable(calls, 'fileshare.db', f, u) },
    {
      name: 'session file PUT, 1 MiB (file blob)',
      head: `PUT /rtc/fileshare/sessions/${sid}/files/${bigFile}`.slice(0, 46),
      k: 0,
      status: /HTTP\/1\.1 200/,
      checks: (f, u) => [...fileBlobDurable(calls, f, u), ...walDurable(calls, 'fileshare.db', f, u)],
    },
    {
      name: 'session file PUT, 4 KiB (inline blob)',
      head: `PUT /rtc/fileshare/sessions/${sid}/files/${bigFile}`.slice(0, 46),
      k: 1,
      status: /HTTP\/1\.1 200/,
      checks: (f, u) => walDurable(calls, 'fileshare.db', f, u),
    },
  ];
  for (const c of cases) {
    const { request, answer } = exchange(calls, c.head, c.k, c.status);
    const problems = c.checks(request.start, answer.start);
    t.deepEqual(problems, [], c.name);
    t.log(`${c.name}: durable before the answer (trace lines ${request.start}-${answer.start})`);
  }
});
