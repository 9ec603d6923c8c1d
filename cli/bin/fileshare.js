#!/usr/bin/env node
// The `fileshare` command: runs the compiled services (npm run build writes */dist).
import { existsSync } from 'node:fs';

// Every upload makes ~9 file-system calls (write, fsync, rename, directory fsync, ...) on libuv's
// thread pool; 4 threads (the default) queue concurrent uploads behind each other's fsyncs.
// Must be set before the pool is first used.
process.env.UV_THREADPOOL_SIZE ??= '16';

const main = new URL('../dist/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write('fileshare: not built yet: run "npm run build" (npm start does it for you)\n');
  process.exit(2);
}
const { run } = await import(main.href);
process.exitCode = await run(process.argv.slice(2));
