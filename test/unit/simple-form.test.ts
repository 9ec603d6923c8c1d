import { Readable, Writable } from 'node:stream';
import { isDeepStrictEqual } from 'node:util';
import test from 'ava';
import type { BlobWriter, StoredBlob } from '@fileshare/shared';
import { receiveMultipart } from '../../services/gateway/src/http/multipart.js';
import { parseSimpleForm, type SimpleForm } from '../../services/gateway/src/http/simple-form.js';

const LIMITS = { maxFields: 4, maxFieldSize: 64, maxNameLength: 40 };

/**
 * What `receiveMultipart` reads from the same bytes, given in these chunks: its form, or the error
 * it answers with. `plain: false` is busboy alone, the reference.
 */
async function received(chunks: Buffer[], contentType: string, plain: boolean): Promise<SimpleForm | { error: string }> {
  const file: Buffer[] = [];
  const open = (): BlobWriter =>
    Object.assign(
      new Writable({
        write(c: Buffer, _e, cb) {
          file.push(Buffer.from(c)); // lent: copied
          cb();
        },
      }),
      { done: new Promise<StoredBlob>(() => undefined) },
    );
  try {
    const form = await receiveMultipart(Readable.from(chunks), contentType, open, LIMITS, { plain });
    if (!form.writer.writableFinished) await new Promise((r) => form.writer.once('finish', r));
    return { file: Buffer.concat(file), name: form.name, contentType: form.contentType, fields: form.fields };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

/** busboy's reading of a body given whole. */
const streamed = (body: Buffer, contentType: string) => received([body], contentType, false);

const plain = (f: SimpleForm | { error: string } | null) => (f && 'file' in f ? { ...f, file: f.file.toString('latin1'), fields: { ...f.fields } } : f);

/** A string's UTF-8 bytes, one char per byte (how a form's bytes are written here). */
const latin1 = (s: string) => Buffer.from(s, 'utf8').toString('latin1');

/** A deterministic random source (mulberry32): the same cases on every run. */
function random(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('the forms clients send are read whole, as busboy reads them', async (t) => {
  const b = 'X-INSOMNIA-BOUNDARY';
  const forms: [string, string, Partial<SimpleForm>][] = [
    // curl --form file=@a.txt --form ttl=60
    [
      `--${b}\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--${b}\r\nContent-Disposition: form-data; name="ttl"\r\n\r\n60\r\n--${b}--\r\n`,
      `multipart/form-data; boundary=${b}`,
      { name: 'a.txt', contentType: 'text/plain', fields: { ttl: ['60'] } },
    ],
    // a browser: field first, quoted boundary in the header, a type in capitals, no final CRLF
    [
      `--${b}\r\ncontent-disposition: form-data; name="maxDownloads"\r\n\r\n2\r\n--${b}\r\nContent-Disposition: form-data; name="file"; filename="Photo.PNG"\r\nContent-Type: Image/PNG\r\n\r\n\x89PNG\r\n\x1a\n\r\n--${b}--`,
      `multipart/form-data; boundary="${b}"`,
      { name: 'Photo.PNG', contentType: 'image/png', fields: { maxDownloads: ['2'] } },
    ],
    // a browser's file with a name in UTF-8 (raw bytes in the quoted filename), a field in UTF-8
    [
      `--${b}\r\nContent-Disposition: form-data; name="file"; filename="${latin1('résumé 履歴書.pdf')}"\r\nContent-Type: application/pdf\r\n\r\n%PDF\r\n--${b}\r\nContent-Disposition: form-data; name="${latin1('título')}"\r\n\r\n${latin1('ça va ✓')}\r\n--${b}--\r\n`,
      `multipart/form-data; boundary=${b}`,
      { name: 'résumé 履歴書.pdf', contentType: 'application/pdf', fields: { título: ['ça va ✓'] } },
    ],
    // no part type: busboy says text/plain; a path in the filename is cut as the stream path cuts it
    [
      `--${b}\r\nContent-Disposition: form-data; name=file; filename="../x/y.bin"\r\n\r\n\r\n--${b}--\r\n`,
      `multipart/form-data; boundary=${b}`,
      { name: 'y.bin', contentType: 'text/plain', fields: {} },
    ],
  ];
  for (const [body, ct, want] of forms) {
    const fast = parseSimpleForm(Buffer.from(body, 'latin1'), ct, LIMITS);
    t.truthy(fast, body);
    t.like(plain(fast), { name: want.name, contentType: want.contentType, fields: want.fields });
    t.deepEqual(plain(fast), plain(await streamed(Buffer.from(body, 'latin1'), ct)));
  }
});

test('anything beyond the plain form is left to busboy', (t) => {
  const b = 'bnd';
  const ct = `multipart/form-data; boundary=${b}`;
  const file = (headers = `Content-Disposition: form-data; name="file"; filename="f"`, data = 'x') => `--${b}\r\n${headers}\r\n\r\n${data}\r\n`;
  const field = (name: string, value: string) => `--${b}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
  const end = `--${b}--\r\n`;
  const declined: [string, string, string?][] = [
    ['preamble', `junk\r\n${file()}${end}`],
    ['no file', `${field('ttl', '5')}${end}`],
    ['two files', `${file()}${file()}${end}`],
    ['a file under another name', `${file('Content-Disposition: form-data; name="other"; filename="o"')}${file()}${end}`],
    ['a field called file', `${field('file', 'v')}${end}`],
    ['filename*', `${file(`Content-Disposition: form-data; name="file"; filename*=UTF-8''%C3%A9`)}${end}`],
    ['an escape in a quoted string', `${file('Content-Disposition: form-data; name="file"; filename="a\\"b"')}${end}`],
    ['another header', `${file('Content-Disposition: form-data; name="file"; filename="f"\r\nContent-Transfer-Encoding: base64')}${end}`],
    ['a type with parameters', `${file('Content-Disposition: form-data; name="file"; filename="f"\r\nContent-Type: text/plain; charset=latin1')}${end}`],
    ['a typed field', `${file()}--${b}\r\nContent-Disposition: form-data; name="ttl"\r\nContent-Type: text/plain\r\n\r\n5\r\n${end}`],
    ['a non-ASCII unquoted filename', `${file('Content-Disposition: form-data; name="file"; filename=\xe9')}${end}`],
    ['a non-ASCII type', `${file('Content-Disposition: form-data; name="file"; filename="f"\r\nContent-Type: text/\xe9')}${end}`],
    ['too many fields', `${file()}${['a', 'b', 'c', 'd', 'e'].map((n) => field(n, '1')).join('')}${end}`],
    ['a field too large', `${file()}${field('ttl', 'x'.repeat(65))}${end}`],
    ['a folded header', `${file('Content-Disposition: form-data;\r\n name="file"; filename="f"')}${end}`],
    ['no closing delimiter', file()],
    ['an epilogue', `${file()}${end}after`],
    ['the boundary inside the data, then junk', `${file(undefined, `a\r\n--${b}X`)}${end}`],
    ['a charset on the form', `${file()}${end}`, `${ct}; charset=utf-8`],
    ['no boundary', `${file()}${end}`, 'multipart/form-data'],
    ['an empty field name', `${file()}${field('', '1')}${end}`],
    ['a header block of 16 KiB', `${file(`Content-Disposition: form-data; name="file"; filename="${'n'.repeat(16 * 1024)}"`)}${end}`],
    ['a duplicate disposition parameter', `${file('Content-Disposition: form-data; name="file"; name="x"; filename="f"')}${end}`],
  ];
  for (const [what, body, type] of declined) t.is(parseSimpleForm(Buffer.from(body, 'latin1'), type ?? ct, LIMITS), null, what);
});

/** A generator of forms (deterministic per seed): mostly plain ones, with every odd case now and then. */
function forms(seed: number) {
  const rnd = random(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)];
  /** Mostly the first (plain) choice, else any: so that many forms are plain and every odd case still comes. */
  const usually = <T>(xs: T[]): T => (rnd() < 0.8 ? xs[0] : pick(xs));
  const ascii = (n: number, from = 0x20, to = 0x7e) => Array.from({ length: n }, () => String.fromCharCode(from + Math.floor(rnd() * (to - from + 1)))).join('');
  /** File data that often holds what a delimiter begins with. */
  const nearMisses = (boundary: string) =>
    Array.from({ length: 1 + Math.floor(rnd() * 12) }, () =>
      pick([ascii(Math.floor(rnd() * 200), 0, 255), '\r', '\r\n', '\r\n-', '\r\n--', `\r\n--${boundary.slice(0, -1)}`, `\r\r\n--${boundary.slice(0, 1)}`]),
    ).join('');
  return {
    rnd,
    pick,
    next(): { ct: string; body: Buffer; boundary: string } {
      const boundary = pick(['b', '----WebKitFormBoundary7MA4YWxkTrZu0gW', ascii(1 + Math.floor(rnd() * 20), 0x30, 0x7a).replace(/[^0-9A-Za-z]/g, '-'), "a'()+_,-./:=?"]);
      const ct = usually([
        `multipart/form-data; boundary=${boundary}`,
        `multipart/form-data; boundary="${boundary}"`,
        `Multipart/Form-Data;boundary=${boundary}`,
        `multipart/form-data; boundary=${boundary}; x=y`,
      ]);
      const disp = (params: string) =>
        `${pick(['Content-Disposition', 'content-disposition', 'CONTENT-DISPOSITION'])}:${pick([' ', '', '  ', '\t'])}${usually(['form-data', 'Form-Data', 'attachment'])}${params}`;
      const q = (v: string) => pick([`"${v}"`, v]);
      const parts: string[] = [];
      const fields = Math.floor(rnd() * (rnd() < 0.9 ? 3 : LIMITS.maxFields + 2));
      const at = Math.floor(rnd() * (fields + 1));
      for (let f = 0; f <= fields; f++) {
        if (f === at) {
          const filename = usually([
            'a.txt',
            '../p/q.bin',
            '',
            '.',
            'x y',
            ascii(6),
            'é.png',
            'a\\b',
            'l'.repeat(8100),
            'l'.repeat(16400),
            latin1('naïve ☃.txt'),
            latin1('ü').slice(0, 1),
          ]);
          const type = usually([undefined, 'application/octet-stream', 'Image/PNG', 'text/plain; charset=utf-8', 'nonsense', 'a/b/c']);
          const data = pick(['', 'hello', ascii(300, 0, 255), `x\r\n--${boundary}`, `\r\n--${boundary}\r\n`, `--${boundary}--`, nearMisses(boundary)]);
          parts.push(`${disp(`; name=${q(usually(['file', 'File', 'other']))}; filename=${q(filename)}`)}${type ? `\r\nContent-Type: ${type}` : ''}\r\n\r\n${data}`);
        } else {
          const name = usually(['ttl', 'maxDownloads', 'x', '__proto__', 'constructor', ascii(3), 'file', '', latin1('größe')]);
          parts.push(`${disp(`; name=${q(name)}`)}\r\n\r\n${usually(['60', '1', '', ascii(10), ascii(80), ascii(5, 0, 255), latin1('日本語')])}`);
        }
      }
      let body = `${parts.map((p) => `--${boundary}\r\n${p}\r\n`).join('')}--${boundary}--${pick(['\r\n', '', '\r\n\r\n'])}`;
      if (rnd() < 0.2) {
        // mangle one byte: insert, drop or change
        const k = Math.floor(rnd() * body.length);
        body = body.slice(0, k) + pick([ascii(1, 0, 255), '', '\r', '\n', '"', '-']) + body.slice(k + pick([0, 1]));
      }
      return { ct, body: Buffer.from(body, 'latin1'), boundary };
    },
  };
}

test('whatever it reads whole, busboy reads the same (2,000 generated forms, some mangled)', async (t) => {
  const gen = forms(17);
  let accepted = 0;
  for (let i = 0; i < 2000; i++) {
    const { ct, body } = gen.next();
    const fast = parseSimpleForm(body, ct, LIMITS);
    if (!fast) continue;
    accepted++;
    t.deepEqual(plain(fast), plain(await streamed(body, ct)), `case ${i}: ${JSON.stringify(ct)} ${JSON.stringify(body.toString('latin1').slice(0, 400))}`);
  }
  // The generator makes plain forms often enough that the fast path is really exercised.
  t.true(accepted > 200, `only ${accepted} forms were read whole`);
});

test('a form streamed in any chunks is read as busboy reads it whole (2,000 generated forms, some mangled)', async (t) => {
  const gen = forms(29);
  let read = 0;
  let cutDependent = 0;
  for (let i = 0; i < 2000; i++) {
    const { ct, body, boundary } = gen.next();
    // Cut anywhere: a byte at a time, in small pieces (delimiters split across several), or in larger ones.
    const most = gen.pick([1, 3, 16, 80, 700, body.length]);
    const chunks: Buffer[] = [];
    for (let at = 0; at < body.length;) {
      const n = 1 + Math.floor(gen.rnd() * most);
      chunks.push(body.subarray(at, at + n));
      at += n;
    }
    const want = await streamed(body, ct);
    if ('file' in want) read++;
    const got = plain(await received(chunks, ct, true));
    if (!isDeepStrictEqual(got, plain(want))) {
      // busboy's own answer for some malformed forms depends on how the body is cut (a bare CR
      // right after a delimiter, a closing delimiter right after a preamble). Such a form read as
      // busboy reads the same chunks, or with a bare CR after a delimiter (the plain path hands
      // busboy what follows the file in other chunks), is one busboy could have answered.
      const bareCr = body
        .toString('latin1')
        .split(`\r\n--${boundary}`)
        .slice(1)
        .some((after) => after[0] === '\r' && after[1] !== '\n');
      if (bareCr || isDeepStrictEqual(got, plain(await received(chunks, ct, false)))) {
        cutDependent++;
        continue;
      }
    }
    t.deepEqual(got, plain(want), `case ${i} (${chunks.length} chunks): ${JSON.stringify(ct)} ${JSON.stringify(body.toString('latin1').slice(0, 400))}`);
  }
  t.true(read > 400, `only ${read} forms were read`);
  t.true(cutDependent < 40, `${cutDependent} forms read as busboy reads them cut, not whole`);
});

test('a file and limits.maxFields fields are a form; one field more is too many, wherever the file is', async (t) => {
  const b = 'bnd';
  const ct = `multipart/form-data; boundary=${b}`;
  const file = `--${b}\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n\r\nxyz\r\n`;
  const field = (i: number) => `--${b}\r\nContent-Disposition: form-data; name="f${i}"\r\n\r\n${i}\r\n`;
  for (const n of [LIMITS.maxFields, LIMITS.maxFields + 1])
    for (let at = 0; at <= n; at++) {
      const fs = Array.from({ length: n }, (_, i) => field(i));
      const body = Buffer.from(`${[...fs.slice(0, at), file, ...fs.slice(at)].join('')}--${b}--\r\n`, 'latin1');
      const what = `${n} fields, the file after ${at}`;
      const whole = parseSimpleForm(body, ct, LIMITS);
      for (const got of [
        await streamed(body, ct),
        await received([body], ct, true),
        await received(
          [...body].map((x) => Buffer.from([x])),
          ct,
          true,
        ),
      ]) {
        if (n > LIMITS.maxFields) t.deepEqual(got, { error: 'too many form fields' }, what);
        else t.like(plain(got), { file: 'xyz', fields: { f0: ['0'], [`f${n - 1}`]: [`${n - 1}`] } }, what);
      }
      t.is(whole !== null, n <= LIMITS.maxFields, what);
    }
});

test('a skipped file part cut short fails the form, and nothing is thrown unhandled', async (t) => {
  const uncaught: Error[] = [];
  const note = (err: Error) => uncaught.push(err);
  process.on('uncaughtException', note);
  const b = 'bnd';
  const body = Buffer.from(`--${b}\r\nContent-Disposition: form-data; name="other"; filename="o"\r\n\r\nxxxx`, 'latin1');
  t.deepEqual(await streamed(body, `multipart/form-data; boundary=${b}`), { error: 'malformed multipart body' });
  await new Promise((r) => setTimeout(r, 50));
  process.off('uncaughtException', note);
  t.deepEqual(uncaught, []);
});
