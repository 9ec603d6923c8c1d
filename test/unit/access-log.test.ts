import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { pino } from 'pino';
import { accessLog } from '@fileshare/shared';

/** A logger shaped like createLogger's (same bindings, time format, redaction) writing to a file. */
function fileLogger(level: string) {
  const file = join(mkdtempSync(join(tmpdir(), 'fs-access-')), 'log');
  const dest = pino.destination({ dest: file, sync: true });
  const log = pino({ level, base: { service: 'gateway', pid: 42 }, timestamp: pino.stdTimeFunctions.isoTime, redact: ['*.password'] }, dest);
  return {
    log,
    lines: () =>
      readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}
const tick = () => new Promise((r) => setImmediate(r));

test('an access line is the line pino writes for the same fields (bar the time), quoting what needs it', async (t) => {
  const { log, lines } = fileLogger('info');
  const write = accessLog(log);
  const line = { method: 'GET', path: '/rtc/fileshare/uploads/"quoted"\\n\u2028é', status: 200, bytesIn: 0, bytesOut: 4096, ms: 0.12, user: 'ali"ce' };
  write(line);
  write({ ...line, status: 499, aborted: true, user: undefined });
  await tick();
  log.info(line, 'request');
  const [ours, aborted, theirs] = lines();
  t.truthy(ours.time);
  t.deepEqual({ ...ours, time: 0 }, { ...theirs, time: 0 });
  t.is(ours.path, line.path);
  t.like(aborted, { status: 499, aborted: true, msg: 'request' });
  t.false('user' in aborted);
});

test('the lines of one turn of the event loop go out together, in order; none below level info', async (t) => {
  const { log, lines } = fileLogger('info');
  const write = accessLog(log);
  for (let i = 0; i < 100; i++) write({ method: 'GET', path: `/p${i}`, status: 200, bytesIn: 0, bytesOut: 0, ms: 0 });
  t.is(lines().length, 0, 'not yet: written at the end of the turn');
  await tick();
  t.deepEqual(
    lines().map((l) => l.path),
    Array.from({ length: 100 }, (_, i) => `/p${i}`),
  );
  const quiet = fileLogger('warn');
  accessLog(quiet.log)({ method: 'GET', path: '/', status: 200, bytesIn: 0, bytesOut: 0, ms: 0 });
  await tick();
  t.is(quiet.lines().length, 0);
});
