/**
 * The Node peer: @tus/server with @tus/file-store (resumable uploads; PATCH writes to disk
 * without fsync or hashing). Run: node --import tsx bench/references/tus-server.ts <port> <dir>
 */
import { createServer } from 'node:http';
import { FileStore } from '@tus/file-store';
import { Server } from '@tus/server';

const [port, dir] = [Number(process.argv[2]), process.argv[3]];
const tus = new Server({ path: '/files', datastore: new FileStore({ directory: dir }) });
createServer((req, res) => void tus.handle(req, res)).listen(port, '127.0.0.1');
