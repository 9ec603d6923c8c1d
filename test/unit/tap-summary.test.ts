import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import test from 'ava';
import { tempDir } from '../helpers/tmp.js';

// The CI line "N passed, N failed" is what everyone reads: it must not say "0 failed" when tests
// did not run. scripts/tap-summary.mjs against TAP as ava writes it, for each way that happens.

const run = promisify(execFile);
// TAP_SCRIPT: the same cases against another summary script (to watch an older one fail them).
const SCRIPT = process.env.TAP_SCRIPT ?? fileURLToPath(new URL('../../scripts/tap-summary.mjs', import.meta.url));

/** A test dir with the given files, and the summary of `tap` against it: last line and exit code. */
async function summary(tap: string, files: Record<string, string> = { 'a.test.ts': "test('x', (t) => t.pass());", 'sub/b.test.ts': "test('y', (t) => t.pass());" }) {
  const dir = tempDir('fs-tap-');
  const testDir = join(dir, 'test');
  for (const [name, body] of Object.entries(files)) {
    mkdirSync(join(testDir, name, '..'), { recursive: true });
    writeFileSync(join(testDir, name), `import test from 'ava';\n${body}\n`);
  }
  writeFileSync(join(dir, 'tap.log'), tap);
  const r = await run(process.execPath, [SCRIPT, join(dir, 'tap.log'), testDir]).then(
    (x) => ({ code: 0, out: x.stdout }),
    (e: { code: number; stdout: string }) => ({ code: e.code, out: e.stdout }),
  );
  const lines = r.out.trim().split('\n');
  return { line: lines[lines.length - 1], problems: lines.slice(0, -1).join('\n'), code: r.code };
}

const GOOD = `TAP version 13
ok 1 - a › x
ok 2 - sub › b › y

1..2
# tests 2
# pass 2
# skip 0
# fail 0
`;

test('a clean run: "2 passed, 0 failed", exit 0', async (t) => {
  t.deepEqual(await summary(GOOD), { line: '2 passed, 0 failed', problems: '', code: 0 });
});

test('a killed run (no plan, no trailer) is a failure, not "N passed, 0 failed"', async (t) => {
  const r = await summary(GOOD.slice(0, GOOD.indexOf('ok 2')));
  t.is(r.code, 1);
  t.regex(r.line, /^1 passed, [1-9]\d* failed$/);
  t.regex(r.problems, /no TAP plan/);
});

test('a failed before hook counts the tests it left behind', async (t) => {
  const tap = `TAP version 13
not ok 1 - a › before hook
# 3 tests remaining in test/a.test.ts
ok 2 - sub › b › y

1..5
# tests 5
# pass 1
# skip 0
# fail 4
`;
  const r = await summary(tap);
  t.is(r.line, '1 passed, 4 failed');
  t.is(r.code, 1);
});

test('a .only in a test file fails the run although ava exits 0', async (t) => {
  // Spelt in two pieces, so that this file does not itself hold what the summary looks for.
  const focused = ['test', `only('x', (t) => t.pass());`].join('.');
  const r = await summary(GOOD, { 'a.test.ts': `${focused}\ntest('z', (t) => t.pass());`, 'sub/b.test.ts': "test('y', (t) => t.pass());" });
  t.is(r.code, 1);
  t.is(r.line, '2 passed, 1 failed');
  t.regex(r.problems, /\.only\(\) leaves the other tests unrun/);
});

test('a test file that reported nothing is a failure', async (t) => {
  const r = await summary(GOOD, { 'a.test.ts': "test('x', (t) => t.pass());", 'sub/b.test.ts': "test('y', (t) => t.pass());", 'c.test.ts': "test('never', (t) => t.pass());" });
  t.is(r.code, 1);
  t.is(r.line, '2 passed, 1 failed');
  t.regex(r.problems, /c\.test\.ts: no result at all/);
});

test('skips and a trailer that disagrees are failures', async (t) => {
  const skipped = await summary(GOOD.replace('ok 2 - sub › b › y', 'ok 2 - sub › b › y # SKIP').replace('# pass 2', '# pass 1').replace('# skip 0', '# skip 1'));
  t.is(skipped.line, '1 passed, 1 failed');
  const lying = await summary(GOOD.replace('# pass 2', '# pass 3'));
  t.is(lying.code, 1);
  t.regex(lying.problems, /trailer says 3 passed/);
});
