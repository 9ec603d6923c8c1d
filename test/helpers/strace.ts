/**
 * A reader for `strace -f -qq -o FILE` output: one entry per system call with the lines where it
 * started and ended (a call another thread interrupted is printed as `<unfinished ...>` and later
 * `<... name resumed>`), and the path its file descriptor named at the time (from the `openat`
 * calls and `close`s before it; threads of one process share the table).
 */
export interface Call {
  pid: number;
  name: string;
  args: string;
  ret: string;
  /** Line of the call's entry, and of its return. */
  start: number;
  end: number;
  /** For calls on a file descriptor: the path it was opened with ('' when unknown, e.g. a socket). */
  path: string;
  fd: number;
}

// strace pads the pid column (`829   recvfrom(…` where pids are short): any run of spaces.
const WHOLE = /^(\d+)\s+(\w+)\((.*)\)\s+= (.*)$/;
const UNFINISHED = /^(\d+)\s+(\w+)\((.*) <unfinished \.\.\.>$/;
const RESUMED = /^(\d+)\s+<\.\.\. (\w+) resumed>(.*)\)\s+= (.*)$/;

export function parseStrace(text: string): Call[] {
  const calls: Call[] = [];
  const open = new Map<number, Call>(); // unfinished call per pid
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    let m: RegExpExecArray | null;
    if ((m = WHOLE.exec(line))) calls.push({ pid: Number(m[1]), name: m[2], args: m[3], ret: m[4], start: i, end: i, path: '', fd: -1 });
    else if ((m = UNFINISHED.exec(line))) {
      const c: Call = { pid: Number(m[1]), name: m[2], args: m[3], ret: '', start: i, end: -1, path: '', fd: -1 };
      open.set(c.pid, c);
      calls.push(c);
    } else if ((m = RESUMED.exec(line))) {
      const c = open.get(Number(m[1]));
      if (c && c.name === m[2]) {
        c.args += m[3];
        c.ret = m[4];
        c.end = i;
        open.delete(c.pid);
      }
    }
  }
  // File descriptors, in the order the calls were made (entry order; an open counts once it returned).
  const fds = new Map<number, string>();
  const byEnd = [...calls].sort((a, b) => a.start - b.start);
  const pendingOpens: Call[] = [];
  for (const c of byEnd) {
    // Opens that returned before this call started.
    for (let k = pendingOpens.length - 1; k >= 0; k--) {
      const o = pendingOpens[k];
      if (o.end >= 0 && o.end < c.start) {
        const fd = Number(o.ret.split(' ')[0]);
        if (fd >= 0) fds.set(fd, /"([^"]*)"/.exec(o.args)?.[1] ?? '');
        pendingOpens.splice(k, 1);
      }
    }
    const fdArg = /^(\d+)/.exec(c.args);
    if (c.name === 'openat' || c.name === 'open') pendingOpens.push(c);
    else if (fdArg) {
      c.fd = Number(fdArg[1]);
      c.path = fds.get(c.fd) ?? '';
      if (c.name === 'close') fds.delete(c.fd);
    }
  }
  return calls;
}
