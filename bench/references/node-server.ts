/**
 * The fair upload reference: a minimal Node `http` server that makes a PUT durable before
 * answering the way fileshare does (same sync strategy, so that row 1 compares implementations,
 * not sync strategies): the body written to a new file with an fdatasync started every 32 MiB
 * (one in flight, not awaited), then a final fsync, and the directory fsynced, then 201. It does
 * not hash, parse multipart, authenticate or keep records. GET: stat + read stream.
 * Run: node --import tsx bench/references/node-server.ts <port> <dir> [<key.pem> <cert.pem>]
 * (with a key and certificate: the same over Node's `https`).
 */
import { createReadStream, promises as fsp } from 'node:fs';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';

const [port, dir] = [Number(process.argv[2]), process.argv[3]];
await fsp.mkdir(dir, { recursive: true });
const safe = (url: string) => join(dir, url.replace(/[^A-Za-z0-9._-]/g, '_'));
const SYNC_EVERY = 32 * 1024 * 1024;

async function durablePut(req: IncomingMessage, file: string): Promise<void> {
  const fh = await fsp.open(file, 'w');
  try {
    let unsynced = 0;
    let syncing: Promise<void> | undefined;
    for await (const chunk of req) {
      const buf = chunk as Buffer;
      for (let off = 0; off < buf.length;) off += (await fh.write(buf, off)).bytesWritten;
      unsynced += buf.length;
      if (unsynced >= SYNC_EVERY && !syncing) {
        unsynced = 0;
        syncing = fh.datasync().finally(() => (syncing = undefined));
      }
    }
    await syncing;
    await fh.sync();
  } finally {
    await fh.close();
  }
  const dh = await fsp.open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const file = safe(req.url ?? '/x');
  try {
    if (req.method === 'PUT') {
      await durablePut(req, file);
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
    if (!res.headersSent) res.writeHead(500).end();
    else res.destroy();
  }
}

const [keyFile, certFile] = [process.argv[4], process.argv[5]];
const server = keyFile
  ? createHttpsServer({ key: readFileSync(keyFile), cert: readFileSync(certFile) }, (req, res) => void handle(req, res))
  : createServer((req, res) => void handle(req, res));
server.listen(port, '127.0.0.1');
