/**
 * The fair upload reference: a minimal Node `http` server that, like fileshare, makes a PUT
 * durable before answering (pipe to a file, fsync, then 201) — but does not hash, parse
 * multipart, authenticate or keep records. GET: stat + read stream.
 * Run: node --import tsx bench/references/node-server.ts <port> <dir>
 */
import { createReadStream, createWriteStream, promises as fsp } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';

const [port, dir] = [Number(process.argv[2]), process.argv[3]];
await fsp.mkdir(dir, { recursive: true });
const safe = (url: string) => join(dir, url.replace(/[^A-Za-z0-9._-]/g, '_'));

createServer(async (req, res) => {
  const file = safe(req.url ?? '/x');
  try {
    if (req.method === 'PUT') {
      const out = createWriteStream(file);
      await pipeline(req, out);
      const fh = await fsp.open(file, 'r+');
      await fh.sync();
      await fh.close();
      res.writeHead(201).end();
    } else if (req.method === 'GET') {
      const st = await fsp.stat(file);
      res.writeHead(200, { 'content-length': st.size, 'content-type': 'application/octet-stream' });
      await pipeline(createReadStream(file), res);
    } else if (req.method === 'DELETE') {
      await fsp.rm(file, { force: true });
      res.writeHead(204).end();
    } else res.writeHead(405).end();
  } catch {
    if (!res.headersSent) res.writeHead(404).end();
    else res.destroy();
  }
}).listen(port, '127.0.0.1');
