import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// Evaluated first, so its exit handler (killing the servers that write into these dirs) runs first.
import './proc.js';

const made: string[] = [];
// Temp dirs go when the test worker (or the bench) exits: a deployment's data dir holds the
// uploaded bytes, a seeded Redis a few hundred MB; repeated runs filled the disk otherwise.
process.on('exit', () => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** A new directory under the OS temp dir, removed when this process exits. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}
