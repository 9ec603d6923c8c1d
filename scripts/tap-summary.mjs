// Reads ava's TAP output and prints one line "N passed, N failed" (last). Everything that is not a
// passing test counts as failed work, and so does every sign that tests did not run:
// - a skipped or todo test;
// - no plan line (`1..N`): ava was killed or crashed before the end;
// - fewer results than the plan: the tests left behind by a failed `before` hook;
// - a `# pass` / `# fail` trailer that disagrees with the lines counted;
// - a test file that left no line at all (it did not load, or was never picked up);
// - a `.only` in a test file: ava then runs and reports only the focused tests, exit 0.
// Exit 1 on any of these, or when nothing ran.
// Usage: node scripts/tap-summary.mjs TAP_LOG [TEST_DIR]
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

const tap = readFileSync(process.argv[2], 'utf8');
const testDir = process.argv[3] ?? 'test';

let passed = 0;
let failed = 0;
let skipped = 0;
let plan = -1;
const trailer = {};
const seen = new Set();
for (const line of tap.split('\n')) {
  let m;
  if ((m = /^(not )?ok \d+ - (.*)$/.exec(line))) {
    seen.add(m[2]);
    if (m[1]) failed++;
    else if (/# (SKIP|TODO)\b/i.test(line)) skipped++;
    else passed++;
  } else if ((m = /^1\.\.(\d+)\s*$/.exec(line))) plan = Number(m[1]);
  else if ((m = /^# (tests|pass|fail|skip|todo) (\d+)\s*$/.exec(line))) trailer[m[1]] = Number(m[2]);
  else if ((m = /^# \d+ tests? remaining in (\S+)/.exec(line))) seen.add(m[1]);
}

const problems = [];
let unrun = 0;
if (plan < 0) {
  problems.push('no TAP plan (1..N): the run did not finish');
  unrun++;
} else if (plan > passed + failed + skipped) {
  unrun += plan - (passed + failed + skipped);
  problems.push(`${plan - (passed + failed + skipped)} planned tests never reported (left behind by a failed hook?)`);
}
if (trailer.pass === undefined || trailer.fail === undefined) problems.push('no "# pass" / "# fail" trailer');
else {
  if (trailer.pass !== passed) problems.push(`the trailer says ${trailer.pass} passed, the lines ${passed}`);
  if (trailer.fail < failed) problems.push(`the trailer says ${trailer.fail} failed, the lines ${failed}`);
}

// Every test file must have said something: its tests, or its failed hook.
const files = [];
const walk = (dir) => {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p);
    else if (e.name.endsWith('.test.ts')) files.push(p);
  }
};
walk(testDir);
const results = [...seen];
let silentFiles = 0;
for (const f of files) {
  const prefix = relative(testDir, f)
    .replace(/\.test\.ts$/, '')
    .split('/')
    .join(' › ');
  const said = results.some((r) => r === f || r.startsWith(prefix + ' › ') || (files.length === 1 && r.length > 0));
  if (!said) {
    silentFiles++;
    problems.push(`${relative('.', f)}: no result at all (did it load?)`);
  }
  if (/\btest(\.serial)?\.only\(|\.only\(\s*['"`]/.test(readFileSync(f, 'utf8'))) {
    silentFiles++;
    problems.push(`${relative('.', f)}: .only() leaves the other tests unrun`);
  }
}

failed += skipped + unrun + silentFiles;
for (const p of problems) console.log(`tap-summary: ${p}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 && problems.length === 0 ? 0 : 1);
