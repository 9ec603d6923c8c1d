import { request, Agent } from 'undici';
const agent = new Agent({ connect: { rejectUnauthorized: false } });
const B = process.argv[2];
const SIZE = Number(process.argv[3]);
const CHUNK = 64 * 1024 * 1024;
const auth = 'Basic ' + Buffer.from('u:p').toString('base64');
const c = await request(`${B}/uploads`, { method: 'POST', dispatcher: agent, headers: { authorization: auth, 'tus-resumable': '1.0.0', 'upload-length': String(SIZE) } });
await c.body.dump();
const loc = c.headers.location;
const buf = Buffer.alloc(CHUNK, 7);
let t0 = Date.now();
const times = [];
for (let off = 0; off < SIZE; off += CHUNK) {
  const n = Math.min(CHUNK, SIZE - off);
  const t = Date.now();
  const r = await request(loc, {
    method: 'PATCH',
    dispatcher: agent,
    headers: { authorization: auth, 'tus-resumable': '1.0.0', 'content-type': 'application/offset+octet-stream', 'upload-offset': String(off), 'content-length': String(n) },
    body: buf.subarray(0, n),
  });
  await r.body.dump();
  if (r.statusCode !== 204) throw new Error(r.statusCode);
  times.push(Date.now() - t);
}
const total = (Date.now() - t0) / 1000;
console.log(`total ${total}s ${(SIZE / 1e6 / total).toFixed(0)} MB/s; chunk ms: ${times.slice(0, -1).join(',')}; last ${times.at(-1)}`);
