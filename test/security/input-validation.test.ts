import test from 'ava';
import { startAllInOne, type Deployment } from '../helpers/deploy.js';
import { newSession, upload } from '../helpers/fixtures.js';
import { http, multipart } from '../helpers/http.js';

let d: Deployment;
let base: string;
test.before(async () => {
  d = await startAllInOne({ FILESHARE_HTTP_TLS_ENABLED: 'false' });
  base = d.gateways[0];
});
test.after.always(async () => d?.stop());

const J = { 'content-type': 'application/json' };
const newFile = (sid: string, body: unknown) => http(`${base}/sessions/${sid}/files`, { method: 'POST', auth: d.user, headers: J, body: JSON.stringify(body) });

test.serial('media types follow RFC 9110: control bytes, no subtype, stray quotes are refused', async (t) => {
  const sid = await newSession(base, d.user);
  for (const bad of [
    'text/plain\u0000',
    'text/plain\u000b',
    'text/html\r\nX-A: b',
    'text',
    'text/',
    '/plain',
    'text/pl ain',
    'text/plain; charset="utf-8',
    'téxt/plain',
    'text/plain;;',
  ]) {
    const r = await newFile(sid, { name: 'a.txt', contentType: bad });
    t.is(r.status, 400, JSON.stringify(bad));
    t.is(r.json.message, 'invalid content type');
  }
  for (const good of ['text/plain', 'text/plain; charset=utf-8', 'application/vnd.api+json', 'multipart/mixed; boundary="a b"'])
    t.is((await newFile(sid, { name: 'a.txt', contentType: good })).status, 201, good);
  // A multipart part's type is never kept as sent when it is not a media type (busboy reads an
  // unparseable one as text/plain; a vertical tab makes the part malformed: 400).
  for (const [sent, status] of [
    ['{}/x', 201],
    ['a\u00e9/b', 201],
    ['text/plain\u000bx', 400],
  ] as const) {
    const mp = multipart([{ name: 'file', value: 'typed', filename: 't.bin', type: sent }]);
    const up = await http(`${base}/uploads`, { method: 'POST', auth: d.user, headers: { 'content-type': mp.contentType }, body: mp.body });
    t.is(up.status, status, JSON.stringify(sent));
    if (status !== 201) continue;
    t.regex(up.json.contentType, /^[a-z0-9.+-]+\/[a-z0-9.+-]+$/, JSON.stringify(sent));
    t.is((await http(`${base}/uploads/${up.json.id}`)).headers['content-type'], up.json.contentType);
  }
});

test.serial('file names: bidi controls and C1 controls removed; over 255 bytes cut the same in JSON and in multipart', async (t) => {
  const spoof = await upload(base, d.user, 'not a jpg', { name: 'photo\u202Egpj.exe' });
  t.is(spoof.status, 201);
  t.is(spoof.json.name, 'photogpj.exe');
  const dl = await http(`${base}/uploads/${spoof.json.id}`);
  t.false(/%E2%80%AE/i.test(dl.headers['content-disposition']), dl.headers['content-disposition']);
  const sid = await newSession(base, d.user);
  t.is((await newFile(sid, { name: 'a\u2066b\u0085c.txt' })).json.name, 'abc.txt');
  // Over 255 bytes once cleaned: cut on a character boundary, in JSON and in a form alike.
  const long = 'é'.repeat(150) + '.txt';
  const viaJson = await newFile(sid, { name: long });
  t.is(viaJson.status, 201);
  t.is(viaJson.json.name, 'é'.repeat(127));
  const viaForm = await upload(base, d.user, 'x', { name: long });
  t.is(viaForm.status, 201);
  t.is(viaForm.json.name, viaJson.json.name);
  t.is((await upload(base, d.user, 'x', { name: 'é'.repeat(126) + '.tx' })).status, 201, '255 bytes is allowed');
  t.is((await upload(base, d.user, 'x', { name: `dir/${'n'.repeat(250)}.txt` })).status, 201, 'the directories of a path do not count');
});

test.serial('integers are written as digits: 1e3, 5.0 and -0 forms are refused in JSON', async (t) => {
  for (const body of ['{"ttl":1e3}', '{"ttl":1E3}', '{"ttl":60.0}', '{"ttl":6e1}']) {
    const r = await http(`${base}/sessions`, { method: 'POST', auth: d.user, headers: J, body });
    t.is(r.status, 400, body);
    t.is(r.json.message, 'invalid ttl', body);
  }
  t.is(
    (await http(`${base}/sessions`, { method: 'POST', auth: d.user, headers: J, body: '{"ttl":1000, "note":"1e3"}' })).status,
    201,
    'a string that looks like one is not a number',
  );
  const sid = await newSession(base, d.user);
  t.is((await http(`${base}/sessions/${sid}/files`, { method: 'POST', auth: d.user, headers: J, body: '{"name":"a","size":1e2}' })).status, 400);
});

test.serial('a form with only a ttl is 400 "file is required" and logs no unhandled rejection', async (t) => {
  const mp = multipart([{ name: 'ttl', value: '60' }]);
  const r = await http(`${base}/uploads`, { method: 'POST', auth: d.user, headers: { 'content-type': mp.contentType }, body: mp.body });
  t.is(r.status, 400);
  t.is(r.json.message, 'file is required');
  await new Promise((res) => setTimeout(res, 300));
  t.false(
    /unhandled rejection|"level":50/.test(d.logs()),
    d
      .logs()
      .split('\n')
      .filter((l) => l.includes('"level":50'))
      .join('\n'),
  );
});
