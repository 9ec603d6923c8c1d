#!/usr/bin/env node
// The `fileshare` command: runs the compiled services (npm run build writes */dist).
import { existsSync } from 'node:fs';

const main = new URL('../dist/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write('fileshare: not built yet: run "npm run build" (npm start does it for you)\n');
  process.exit(2);
}
const { run } = await import(main.href);
process.exitCode = await run(process.argv.slice(2));
