import test from 'ava';
import { parseBasic } from '../../services/gateway/src/auth/authenticator.js';
import { FailureThrottle } from '../../services/gateway/src/auth/throttle.js';
import { BlobCache } from '../../services/gateway/src/cache/blob-cache.js';
import { cleanFileName, contentDisposition } from '../../services/gateway/src/http/disposition.js';
import { redactPath, redactSegments } from '../../services/gateway/src/http/log-path.js';
import { parseRange } from '../../services/gateway/src/http/range.js';
import { splitPath } from '../../services/gateway/src/router.js';

test('parseRange follows RFC 9110 for one range and ignores what it does not serve', (t) => {
  const cases: [string | undefined, number, ReturnType<typeof parseRange>][] = [
    [undefined, 10, undefined],
    ['bytes=0-0', 10, { start: 0, end: 0 }],
    ['bytes=2-5', 10, { start: 2, end: 5 }],
    ['bytes=5-', 10, { start: 5, end: 9 }],
    ['bytes=-4', 10, { start: 6, end: 9 }],
    ['bytes=-40', 10, { start: 0, end: 9 }],
    ['bytes=3-1000', 10, { start: 3, end: 9 }],
    ['bytes=10-', 10, 'unsatisfiable'],
    ['bytes=-0', 10, 'unsatisfiable'],
    ['bytes=0-', 0, 'unsatisfiable'],
    ['bytes=5-2', 10, undefined],
    ['bytes=0-1,3-4', 10, undefined],
    ['items=0-1', 10, undefined],
    ['bytes=abc', 10, undefined],
  ];
  for (const [h, size, want] of cases) t.deepEqual(parseRange(h, size), want, String(h));
});

test('Content-Disposition is encoded, never pasted', (t) => {
  t.is(contentDisposition('a.txt'), `attachment; filename="a.txt"; filename*=UTF-8''a.txt`);
  const evil = contentDisposition('x"; filename="evil.html\r\nSet-Cookie: a=b');
  t.false(/[\r\n]/.test(evil));
  t.is(evil.split('"').length, 3, 'exactly one quoted string');
  const uni = contentDisposition('résumé ✓.pdf');
  t.regex(uni, /^attachment; filename="r_sum_ _\.pdf"; filename\*=UTF-8''r%C3%A9sum%C3%A9%20%E2%9C%93\.pdf$/);
  t.false(/[^\x20-\x7e]/.test(uni));
});

test('cleanFileName keeps the last segment, drops control characters, cuts on a character boundary', (t) => {
  t.is(cleanFileName('../../etc/passwd', 255), 'passwd');
  t.is(cleanFileName('C:\\Users\\me\\doc.txt', 255), 'doc.txt');
  t.is(cleanFileName('a\u0000b\r\nc.txt', 255), 'abc.txt');
  t.is(cleanFileName('..', 255), 'file');
  t.is(cleanFileName('', 255), 'file');
  t.is(cleanFileName(undefined, 255), 'file');
  const long = 'é'.repeat(200); // 400 bytes
  const cut = cleanFileName(long, 255);
  t.true(Buffer.byteLength(cut) <= 255);
  t.is(cut, 'é'.repeat(127));
});

test('parseBasic refuses every malformed header', (t) => {
  const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');
  t.deepEqual(parseBasic('Basic ' + b64('foo:bar')), { username: 'foo', password: 'bar' });
  t.deepEqual(parseBasic('basic ' + b64('foo:b:a:r')), { username: 'foo', password: 'b:a:r' });
  t.deepEqual(parseBasic('Basic ' + b64('fö:pässword')), { username: 'fö', password: 'pässword' });
  for (const h of [
    '',
    'Basic',
    'Basic ',
    'Bearer ' + b64('a:b'),
    'Basic ' + b64('nocolon'),
    'Basic ' + b64(':nouser'),
    'Basic !!!',
    'Basic ' + b64(Buffer.from([0xff, 0x3a, 0x41])),
    'Basic ' + 'A'.repeat(5000),
  ]) {
    t.is(parseBasic(h), null, h.slice(0, 30));
  }
});

test('splitPath decodes segments and refuses tricks', (t) => {
  t.deepEqual(splitPath('/uploads/abc'), ['uploads', 'abc']);
  t.deepEqual(splitPath('/uploads/%61bc'), ['uploads', 'abc']);
  for (const p of ['/uploads//abc', '/uploads/', '/uploads/%2e%2e', '/uploads/a%2Fb', '/uploads/%E0%A4%A', '/uploads/a%00b', '/uploads/a%5Cb']) t.is(splitPath(p), null, p);
});

test('FailureThrottle blocks a client or a user after too many failures, for the window', (t) => {
  const th = new FailureThrottle(3, 60_000);
  for (let i = 0; i < 3; i++) {
    th.begin('1.1.1.1', 'bob');
    th.end('1.1.1.1', 'bob', true);
  }
  t.true(th.blockedFor('1.1.1.1').client > 0);
  t.true(th.blockedFor('2.2.2.2', 'bob').user > 0, 'the user is blocked from anywhere');
  t.deepEqual(th.blockedFor('2.2.2.2', 'alice'), { client: 0, user: 0 });
  t.true(th.blockedFor('1.1.1.1').client <= 60);
});

test('FailureThrottle counts attempts in flight before they fail: a concurrent burst is blocked as it starts', (t) => {
  const th = new FailureThrottle(3, 60_000);
  for (let i = 0; i < 3; i++) th.begin('1.1.1.1', `u${i}`);
  t.is(th.blockedFor('1.1.1.1', 'u9').client, 1, 'three checks running: the fourth waits');
  th.end('1.1.1.1', 'u0', false);
  t.is(th.blockedFor('1.1.1.1', 'u9').client, 0, 'a success frees its place');
  th.begin('1.1.1.1', 'u3');
  for (const u of ['u1', 'u2', 'u3']) th.end('1.1.1.1', u, true);
  t.true(th.blockedFor('1.1.1.1').client > 1, 'three failures: blocked for the window');
});

test('the small-file cache stays within its bytes, keeps what is read over what is not, and refuses what does not fit', (t) => {
  const kib = (n: number) => Buffer.alloc(n * 1024, n);
  const cache = new BlobCache(10 * 1024, 4 * 1024);
  t.false(cache.fits(5 * 1024), 'larger than an item may be');
  cache.set('big', kib(5));
  t.is(cache.get('big'), undefined);
  for (const k of ['a', 'b', 'c']) cache.set(k, kib(3)); // 9 KiB
  t.is(cache.get('a')?.length, 3 * 1024); // read: a second chance
  cache.set('d', kib(3)); // 12 KiB: b, the oldest never read, goes
  t.is(cache.get('b'), undefined);
  t.truthy(cache.get('a'));
  t.truthy(cache.get('c'));
  t.truthy(cache.get('d'));
  t.true(cache.size <= 10 * 1024);
  // Everything read: eviction still ends, and still within bounds.
  for (let i = 0; i < 50; i++) {
    cache.set(`k${i}`, kib(1 + (i % 4)));
    for (const k of ['a', 'c', 'd', `k${i}`]) cache.get(k);
    t.true(cache.size <= 10 * 1024, `after ${i}: ${cache.size}`);
  }
});

test('redactPath skips only paths the whole rule leaves alone: 20,000 generated paths agree with it', (t) => {
  const id = '3f2b8c1e-4d5a-4b6c-8d7e-9f0a1b2c3d4e';
  const token = 'AZ09az_-'.repeat(4);
  const pieces = [
    'rtc',
    'fileshare',
    'uploads',
    'sessions',
    'files',
    'tokens',
    'TOKENS',
    'Tokens',
    '%74okens',
    'tokenz',
    '',
    id,
    id.toUpperCase(),
    token,
    token + 'x',
    token.slice(1),
    `${id}x`,
    'a'.repeat(40),
    '.'.repeat(36),
    '%2F',
    '%E0%A4%A',
    'x%20y',
    `${token.slice(0, 16)}%2D${token.slice(16)}`,
  ];
  let seed = 1446;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
  let redacted = 0;
  for (let i = 0; i < 20_000; i++) {
    const n = next() % 7;
    const path = (next() % 9 === 0 ? '' : '/') + Array.from({ length: n }, () => pieces[next() % pieces.length]).join('/');
    const want = redactSegments(path);
    if (want !== path) redacted++;
    if (redactPath(path) !== want) return t.fail(`${path}: ${redactPath(path)} where the rule gives ${want}`);
  }
  t.true(redacted > 5_000, `only ${redacted} of the generated paths had anything to redact`);
  t.is(redactPath(`/rtc/fileshare/uploads/${id}`), `/rtc/fileshare/uploads/${id}`);
  t.is(redactPath(`/rtc/fileshare/sessions/${id}/files/${id}/tokens/${token}`), `/rtc/fileshare/sessions/${id}/files/${id}/tokens/:token`);
});
