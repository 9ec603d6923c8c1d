// Reads ava's TAP output and prints one line "N passed, N failed". Skipped or todo tests
// count as failed work: exit 1 when anything failed, was skipped, or nothing ran.
import { readFileSync } from 'node:fs';

const tap = readFileSync(process.argv[2], 'utf8');
let passed = 0;
let failed = 0;
let skipped = 0;
for (const line of tap.split('\n')) {
  if (/^ok \d+/.test(line)) {
    if (/# (SKIP|TODO)/i.test(line)) skipped++;
    else passed++;
  } else if (/^not ok \d+/.test(line)) failed++;
}
failed += skipped;
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
